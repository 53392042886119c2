"""Value checks shared by the schemas: each raises a ValueError that names the key."""

from __future__ import annotations

from typing import Any


def one_of(value: Any, allowed: tuple, key: str) -> None:
    """Raise naming ``key`` unless ``value`` is in ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{key}={value!r} is not one of {allowed}.")


def plain_name(value: Any, key: str) -> None:
    """Raise unless ``value`` is one plain path component (it becomes a directory name under an output root:
    ``../x``, ``/abs`` or ``a/b`` would write outside it)."""
    text = str(value)
    if text in ("", ".", "..") or "/" in text or "\\" in text or "\x00" in text or text.startswith("~"):
        raise ValueError(
            f"{key}={text!r} must be one plain name (it becomes a directory name): no '/', '\\', '..' or '~', "
            "e.g. my_dataset."
        )


def positive(obj: Any, *keys: str, prefix: str = "") -> None:
    """Raise naming the first of ``keys`` (attributes of ``obj``) that is not an integer >= 1."""
    for key in keys:
        value = getattr(obj, key)
        if value is not None and value < 1:
            raise ValueError(f"{prefix}{key}={value} must be a positive integer (>= 1).")
