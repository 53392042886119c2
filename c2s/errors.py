"""Errors raised on bad user input. Each message names the problem and the fix."""


class C2SInputError(ValueError):
    """Input data or configuration that c2s cannot use as given."""


class C2SInterrupted(Exception):
    """A run stopped by a signal: the entry point prints ``str(self)`` (how to go on) and exits with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
