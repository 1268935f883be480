"""``python -m workbench.report <sweep dir or runs folder> [--out DIR]``: tables, tests and plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.report.build import build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.report", description=__doc__)
    parser.add_argument("root", help="a sweep directory, or any folder holding run directories")
    parser.add_argument("--out", help="report folder (default: <root>/report)")
    args = parser.parse_args(argv)
    if not Path(args.root).is_dir():
        print(f"error: no such folder: {args.root}", file=sys.stderr)
        return 2
    out = build_report(args.root, args.out)
    print((out / "report.md").read_text())
    print(f"report written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
