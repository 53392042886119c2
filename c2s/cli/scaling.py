"""python -m c2s.scaling <sweep dir> [--out DIR] [--boot N]: fit, plot and report a sweep (c2s.scaling.report)."""

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
    args = p.parse_args()
    exit_on_input_error(lambda a: scaling_report(a.sweep_dir, a.out, a.boot), args, "c2s.scaling")
    print(Path(args.out or args.sweep_dir, "scaling.md").read_text())


if __name__ == "__main__":
    main()
