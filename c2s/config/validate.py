"""Reject config keys that the schemas do not define, including ones added with Hydra's ``+``
(which OmegaConf lets through on structured nodes)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from omegaconf import DictConfig

from c2s.errors import C2SInputError

IGNORED = {"hydra", "_target_", "_partial_"}


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
        raise C2SInputError(f"Unknown config key(s): {', '.join(bad)}. Check the spelling against configs/ "
                            "(python train.py --cfg job prints the full config).")
