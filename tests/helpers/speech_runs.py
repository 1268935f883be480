"""Command-line arguments of a tiny ``speech.fit`` run on the tiny embedded corpus (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


BASE = str(REPO / "configs" / "embedded" / "speech.yaml")


def tiny_args(root: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "-c",
        BASE,
        f"--data.source.init_args.root={root}",
        "--data.source.init_args.tiny=true",
        "--model.encoder.init_args.dim=32",
        "--model.encoder.init_args.num_blocks=2",
        f"--model.cache_dir={run_dir}/cache",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--data.batch_size=6",
        "--threads=1",
        f"--run_dir={run_dir}",
        *extra,
    ]
