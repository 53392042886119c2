"""Build a local stand-in for a released C2S-Scale checkpoint (see c2s.models.standin).

python -m c2s.cli.standin OUT_DIR [H5AD CELL_TYPE_KEY]   (default: pbmc68k_reduced, bulk_labels)
"""

from __future__ import annotations

import logging
import sys

from c2s.cli import exit_on_input_error
from c2s.errors import C2SInputError
from c2s.models.standin import make_standin, standin_texts

USAGE = "python -m c2s.cli.standin OUT_DIR [H5AD CELL_TYPE_KEY]"


def main(argv: list[str]) -> None:
    if len(argv) not in (1, 3) or argv[0].startswith("-"):
        raise C2SInputError("Usage: " + USAGE)
    path, key = (argv[1], argv[2]) if len(argv) == 3 else ("scanpy:pbmc68k_reduced", "bulk_labels")
    data = {"name": "standin", "path": path, "use_raw": path == "scanpy:pbmc68k_reduced", "cell_type_key": key}
    out = make_standin(argv[0], standin_texts(data))
    print(f"Wrote a tiny Gemma-2 stand-in to {out}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    exit_on_input_error(main, sys.argv[1:], "standin")
