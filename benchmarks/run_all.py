"""Run every benchmark (``--quick`` by default): ``python -m benchmarks [--full] [--data-root DIR]``.

Each benchmark runs in its own process (clean state, its own peak memory) one after the
other; their outputs, with the ``RATIO`` / ``SAME_*`` / ``WALL_TIME`` lines, are printed as
they finish. ``benchmarks/whisper_batched.py`` (the cascade engineer's) runs too when present.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCHMARKS = [
    "e2e_training",
    "frozen_cache",
    "feature_cache",
    "data_build",
    "cascade_recognition",
    "faster_whisper",
    "uroman_fast",
    "sweep_launch",
    "image_decode",
    "speechtaxi_prepare",
    "wall_time",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the larger settings (minutes each)")
    parser.add_argument("--default", action="store_true", help="the default settings (tens of seconds each)")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    args = parser.parse_args(argv)
    size = ["--full"] if args.full else [] if args.default else ["--quick"]
    names = list(args.only or BENCHMARKS)
    if args.only is None and (Path(__file__).parent / "whisper_batched.py").is_file():
        names.append("whisper_batched")
    failed, summary = [], []
    for name in names:
        extra = ["--data-root", args.data_root] if name != "whisper_batched" else []
        if name == "wall_time" and not args.full:
            extra += ["--job", "main"]  # the cut-down main job in --quick; the real one otherwise
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *size, *extra]
        print(f"\n### {' '.join(cmd[1:])}", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(proc.stdout, flush=True)
        summary += [line for line in proc.stdout.splitlines() if line.startswith(("RATIO", "SAME_", "WALL_TIME"))]
        if proc.returncode:
            failed.append(name)
            print(proc.stderr[-3000:], flush=True)
    print("\n## summary\n" + "\n".join(summary))
    print(f"{len(names) - len(failed)}/{len(names)} benchmarks ran" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
