"""A sweep point started from the preloaded forkserver vs in a new interpreter.

    python -m benchmarks.sweep_launch [--quick | --full] [--rounds N] [--data-root DIR]

Both sides run the same real point through :func:`workbench.sweep.runner.run_point`: the
embedded cascade's text classifier (``cascade.fit -c configs/embedded/cascade.yaml``) on gold
text (no recognizer), in_language eng, in a fresh run directory each time. Side A forks it from
:class:`workbench.sweep.launch.ForkLauncher` (torch and Lightning imported once, before the
rounds: its start is timed apart), side B starts ``python -m cascade.fit`` as the cluster
engine does. Wall time per point, interleaved rounds; ``--quick``: the tiny build and 10 steps.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import base_parser, header, interleave

ROOT = Path(__file__).resolve().parents[1]


def point(run_dir: Path, data_root: str, quick: bool):
    from workbench.sweep.spec import Point

    args = [
        ("--data.recognizer", "null"),  # gold text: the point is the classifier's training alone
        ("--data.source.init_args.root", data_root),
        ("--threads", "1"),
    ]
    if quick:
        args += [
            ("--data.source.init_args.tiny", "true"),
            ("--trainer.max_steps", "10"),
            ("--trainer.min_steps", "0"),
        ]
    configs = (str(ROOT / "configs" / "embedded" / "cascade.yaml"),)
    return Point("ca-gold", "cascade.fit", configs, tuple(args), run_dir, "in_language", ("eng",), 0)


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    import torch  # the header's thread count: the points run with --threads as given

    torch.set_num_threads(args.threads)
    from workbench.sweep.launch import ForkLauncher
    from workbench.sweep.runner import run_point, worker_env

    rounds = args.rounds or (2 if args.quick else 6 if args.full else 4)
    lines = header("sweep point: forked from the preloaded forkserver vs a new interpreter", args)
    env = worker_env(0, 1)
    env["XLING_NUM_THREADS"] = str(args.threads)
    work = Path(tempfile.mkdtemp(dir=args.work_dir))
    try:
        started = time.perf_counter()
        launcher = ForkLauncher()
        ok, tail = run_point(point(work / "warm-up", args.data_root, args.quick), env, launcher)
        if not ok:
            raise SystemExit(f"the warm-up point failed:\n{tail}")
        lines.append(f"forkserver start + warm-up point (not in the rounds): {time.perf_counter() - started:.1f} s")
        runs = itertools.count()  # a fresh run directory for every point

        def run(name: str, how) -> None:
            ok, tail = run_point(point(work / f"{name}-{next(runs)}", args.data_root, args.quick), env, how)
            if not ok:
                raise SystemExit(f"a {name} point failed:\n{tail}")

        result = interleave(
            "sweep_point_launch",
            "forked",
            "new_interpreter",
            lambda: run("forked", launcher),
            lambda: run("new_interpreter", None),
            rounds,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    saved = [b - a for a, b in zip(result.times_a, result.times_b, strict=True)]
    lines.append(f"seconds saved a point (per round): {', '.join(f'{s:.1f}' for s in saved)}")
    lines += result.lines(quick=args.quick)
    print("\n".join(lines), flush=True)
    return {"ratio": result.median_ratio()}


if __name__ == "__main__":
    main()
