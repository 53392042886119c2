"""Errors raised on bad user input. Each message names the problem and the fix."""


class C2SInputError(ValueError):
    """Input data or configuration that c2s cannot use as given."""
