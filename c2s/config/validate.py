"""Config checks that run before any data or model work: keys the schemas do not define
(including ones added with Hydra's ``+``, which OmegaConf lets through on structured nodes),
values (each schema's ``__post_init__``), input files, and writable output directories."""

from __future__ import annotations

import dataclasses
import tempfile
import typing
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from c2s.errors import C2SInputError

IGNORED = {"hydra"}  # _target_ is a key only where a schema declares it (the optimizer): Hydra imports it
T = TypeVar("T")


def _dataclass_of(tp: Any) -> type | None:
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):  # Optional[X], X | None
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def unknown_keys(node: Any, schema: type, prefix: str = "") -> list[str]:
    """Dotted paths of keys in ``node`` that ``schema`` (a dataclass) does not declare."""
    if not isinstance(node, (DictConfig, dict)):
        return []
    hints = typing.get_type_hints(schema)
    found = []
    for key in node.keys():
        path = f"{prefix}{key}"
        if key in IGNORED:
            continue
        if key not in hints:
            found.append(path)
            continue
        tp = hints[key]
        if typing.get_origin(tp) is dict and len(typing.get_args(tp)) == 2:
            value_type = _dataclass_of(typing.get_args(tp)[1])
            if value_type is not None and node[key] is not None:
                for k in node[key].keys():
                    found += unknown_keys(node[key][k], value_type, f"{path}.{k}.")
        elif (sub := _dataclass_of(tp)) is not None:
            found += unknown_keys(node[key], sub, path + ".")
    return found


def reject_unknown_keys(cfg: DictConfig, schema: type) -> None:
    bad = unknown_keys(cfg, schema)
    if bad:
        raise C2SInputError(
            f"Unknown config key(s): {', '.join(bad)}. Check the spelling against configs/ "
            "(python train.py --cfg job prints the full config)."
        )


def check_writable(path: str | Path, key: str) -> None:
    """Raise unless files can be created at ``path`` (or, if it does not exist yet, in its nearest
    existing ancestor). Probes with a temporary file that is removed at once, so nothing is left."""
    p = Path(path).expanduser().absolute()
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        if not probe.is_dir():
            raise NotADirectoryError(f"{probe} is a file")
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise C2SInputError(
            f"{key}={str(path)!r} is not writable ({exc}). Choose a directory you can write to, "
            f"e.g. {key}=$HOME/c2s/{Path(path).name or 'out'}."
        ) from None


def check_data_paths(cfg: Any) -> None:
    """Every ``data`` / ``extra_data`` path is of a known source scheme and its parts can be read (each source
    kind checks its own, c2s.io.sources)."""
    from c2s.io.sources import source_parts

    for d in [cfg.data, *(cfg.get("extra_data") or [])]:
        source_parts(str(d.path))


def validate_config(cfg: DictConfig, schema: type[T], outputs: tuple[str, ...] = (), data: bool = True) -> T:
    """Every check that needs no data: unknown keys, types and values (the schema's ``__post_init__``),
    input files present, ``outputs`` (config keys of directories) writable. Returns the typed config: an
    instance of ``schema`` (``dataclasses.asdict`` gives the plain dict)."""
    reject_unknown_keys(cfg, schema)
    try:
        config = OmegaConf.to_object(cfg)
    except Exception as exc:  # omegaconf wraps our ValueErrors; keep the message, drop the noise
        raise C2SInputError(f"Invalid config: {exc}") from None
    if data:
        check_data_paths(cfg)
    for key in outputs:
        if cfg.get(key):
            check_writable(cfg[key], key)
    return config


def from_dict(schema: type[T], values: Any, what: str) -> T:
    """Rebuild a typed config from its plain dict (e.g. checkpoint hyper-parameters), with the same
    checks as ``validate_config``; missing keys take the schema's defaults. ``what`` names the source."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except Exception as exc:
        raise C2SInputError(
            f"{what} does not match this version of c2s ({exc}). Re-run the stage that wrote it, or use "
            "the c2s version that did."
        ) from None


def as_config(schema: type[T], values: Any, what: str) -> T:
    """``values`` if it already is a ``schema``, else the typed config rebuilt from that dict (``from_dict``):
    for public functions that notebooks call with plain dicts."""
    return values if isinstance(values, schema) else from_dict(schema, values, what)
