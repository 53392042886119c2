"""python -m c2s.scaling <sweep dir> [--out DIR] [--boot N]: fit, plot and report a sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from c2s.scaling.report import scaling_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("sweep_dir")
    p.add_argument("--out", default=None, help="where to write (default: the sweep dir)")
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples for the CIs")
    args = p.parse_args()
    scaling_report(args.sweep_dir, args.out, args.boot)
    print(Path(args.out or args.sweep_dir, "scaling.md").read_text())


if __name__ == "__main__":
    main()
