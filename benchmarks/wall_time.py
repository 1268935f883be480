"""Wall time of the README's main job and of the embedded sweep, against their targets.

    python -m benchmarks.wall_time --job main      # python -m speech.fit -c configs/embedded/speech.yaml
    python -m benchmarks.wall_time --job main --fresh-data   # as on a fresh checkout: data build included
    python -m benchmarks.wall_time --job sweep     # python -m workbench.sweep -c configs/sweeps/embedded.yaml
    python -m benchmarks.wall_time --job main --dry-run

Targets on 2 idle CPU cores (issue 15): main job <= 3 minutes from a fresh checkout, data
build included; sweep <= 15 minutes from a built dataset. Each job runs as a subprocess into
a fresh output folder (``--out``, default a temporary one) so a previous run's results are
never reused; the load average before and after is printed with the time, since a shared
machine can double it. The main job reads the embedded data in ``--data-root`` (building
what is missing, which this timing then includes); ``--fresh-data`` gives it an empty data
folder and an empty feature cache instead, as on a fresh checkout.

``--quick`` (what the tests run) times the main job cut down to a few batches on the tiny
embedded corpus: it checks the harness, not the target.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import base_parser, header, load_average

TARGETS = {"main": 3 * 60, "sweep": 15 * 60}  # seconds


def main_command(run_dir: Path, quick: bool, data_root: str, fresh: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "speech.fit", "-c", "configs/embedded/speech.yaml", "--run_dir", str(run_dir)]
    if fresh:
        cmd += [f"--data.source.init_args.root={data_root}"]
    if quick:
        cmd += [
            "--data.source.init_args.tiny=true",
            f"--data.source.init_args.root={data_root}",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--model.encoder.init_args.dim=32",
            "--model.encoder.init_args.num_blocks=1",
        ]
    return cmd


def sweep_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "workbench.sweep", "-c", "configs/sweeps/embedded.yaml", "--out", str(out)]


def time_job(name: str, cmd: list[str], log_path: Path, env: dict | None = None) -> tuple[list[str], float, int]:
    """Run ``cmd`` (output to ``log_path``); return report lines, seconds and exit status."""
    before = load_average()
    start = time.perf_counter()
    with open(log_path, "w") as log:
        status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env or os.environ.copy()).returncode
    seconds = time.perf_counter() - start
    lines = [
        f"$ {shlex.join(cmd)}",
        f"  exit status {status}; log {log_path}",
        f"  load average before: {before}; after: {load_average()}",
    ]
    return lines, seconds, status


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--job", choices=["main", "sweep", "both"], default="main")
    parser.add_argument("--out", default=None, help="output folder for the runs (default: a temporary one)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument(
        "--fresh-data", action="store_true", help="main job: an empty data folder and feature cache (a fresh checkout)"
    )
    args = parser.parse_args(argv)
    lines = header("Wall time of the main job and the embedded sweep", args)
    jobs = ["main", "sweep"] if args.job == "both" else [args.job]
    if args.quick and "sweep" in jobs:
        parser.error("--quick times the cut-down main job only; the sweep has no quick form here")
    failed = 0
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        env = os.environ.copy()
        data_root = args.data_root
        if args.fresh_data:
            data_root = str(out / "fresh-data")
            env["WORKBENCH_FEATURE_CACHE"] = str(out / "fresh-data" / "cache" / "features")
            lines.append(f"fresh data: {data_root} (empty), feature cache {env['WORKBENCH_FEATURE_CACHE']} (empty)")
        for job in jobs:
            cmd = (
                main_command(out / "main", args.quick, data_root, fresh=args.fresh_data)
                if job == "main"
                else sweep_command(out / "sweep")
            )
            if args.dry_run:
                lines.append(f"$ {shlex.join(cmd)}")
                continue
            job_lines, seconds, status = time_job(job, cmd, out / f"{job}.log", env)
            lines += job_lines
            target = TARGETS[job]
            verdict = "n/a (--quick: cut-down job)" if args.quick else ("met" if seconds <= target else "MISSED")
            if status:
                verdict, failed = f"FAILED (exit {status})", failed + 1
            lines.append(
                f"WALL_TIME {job}: {seconds:.1f} s = {seconds / 60:.1f} min "
                f"(target <= {target / 60:.0f} min: {verdict})"
            )
            if status:
                lines.append((out / f"{job}.log").read_text()[-3000:])
    print("\n".join(lines), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
