"""python -m c2s.scaling <sweep dir> [--out DIR] [--boot N]: fit, plot and report a sweep (c2s.scaling.report).
python -m c2s.scaling <dir with scaling.json> --replot: redraw its PNGs from scaling.json alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from c2s.cli import exit_on_input_error
from c2s.scaling.report import scaling_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("sweep_dir")
    p.add_argument("--out", default=None, help="where to write (default: the sweep dir)")
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples for the CIs")
    p.add_argument("--replot", action="store_true", help="redraw the PNGs from the dir's scaling.json (no runs read)")
    args = p.parse_args()
    if args.replot:
        exit_on_input_error(lambda a: print("\n".join(_replot(a.sweep_dir))), args, "c2s.scaling")
        return
    exit_on_input_error(lambda a: scaling_report(a.sweep_dir, a.out, a.boot), args, "c2s.scaling")
    print(Path(args.out or args.sweep_dir, "scaling.md").read_text())


def _replot(path: str) -> list[str]:
    from c2s.errors import C2SInputError
    from c2s.scaling.plots import replot

    if not (Path(path) / "scaling.json").is_file():
        raise C2SInputError(f"{path} has no scaling.json: run python -m c2s.scaling {path} first.")
    return replot(path)


if __name__ == "__main__":
    main()
