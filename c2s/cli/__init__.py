"""Command-line entry points (Hydra mains)."""

import logging
import sys
from typing import Any, Callable

from c2s.errors import C2SInputError


def exit_on_input_error(fn: Callable[[Any], Any], cfg: Any, name: str) -> None:
    """Run an entry point; a C2SInputError becomes one logged line and exit status 2 (no traceback)."""
    try:
        fn(cfg)
    except C2SInputError as exc:
        logging.getLogger(name).error("%s", exc)
        sys.exit(2)
