"""``python -m vision.fit`` end to end on the tiny digits: run directory, predictions, resume, zero-shot."""

from __future__ import annotations

import json

import torch

from vision.fit import main
from workbench.runs import RunDir


def tiny_args(root, run_dir, *extra) -> list[str]:
    return [
        "-c", "configs/embedded/vision.yaml",
        "--data.source.init_args.root", str(root),
        "--data.source.init_args.tiny", "true",
        "--data.batch_size", "32",
        "--trainer.max_epochs", "2",
        "--trainer.enable_model_summary", "false",
        "--run_dir", str(run_dir),
        *extra,
    ]  # fmt: skip


def test_fit_test_writes_a_complete_run_dir_and_resumes(tmp_path):
    metrics = main(tiny_args(tmp_path / "data", tmp_path / "run", "-c", "configs/protocol/zero_shot.yaml")).metrics
    run = RunDir(tmp_path / "run")
    assert run.is_finished() and (run.path / "config.yaml").is_file()
    assert (
        metrics["record"]["system"] == "vis-finetune"
        and metrics["record"]["protocol"]["name"] == "zero_shot"
        and metrics["record"]["protocol"]["sources"] == ["eng"]
    )
    assert set(metrics["splits"]["test"]["per_language"]) == {"eng", "rus", "tha"}
    rows = run.predictions()
    assert len(rows) == metrics["splits"]["test"]["overall"]["n"] == 3 * 36
    assert {r["split"] for r in rows} == {"test"} and all(len(r["probs"]) == 10 for r in rows)
    assert metrics["sections"]["prompts"]["rus"][2] == "два"
    checkpoint = torch.load(run.checkpoints / "best.ckpt", weights_only=True)
    assert checkpoint["open_clip"]["preprocess_cfg"]["size"] == (32, 32)
    assert checkpoint["hyper_parameters"]["class_names"]["tha"][0] == "ศูนย์"
    # resume the fit from its last checkpoint for one more epoch
    resumed = main(
        tiny_args(
            tmp_path / "data",
            tmp_path / "run2",
            "--trainer.max_epochs",
            "3",
            "--ckpt_path",
            str(run.checkpoints / "last.ckpt"),
        )
    ).metrics
    assert torch.load(tmp_path / "run2" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 2
    protocol = resumed["record"]["protocol"]
    assert (protocol["name"], protocol["sources"]) == ("in_language", ["eng"])


def test_evaluation_without_fit_is_zero_shot_and_romanized(tmp_path):
    metrics = main(
        tiny_args(tmp_path / "data", tmp_path / "run", "--fit", "false", "-c", "configs/vision/romanized.yaml")
    ).metrics
    assert (
        metrics["record"]["system"] == "vis-zeroshot-romanized" and metrics["record"]["model"]["script"] == "romanized"
    )
    assert metrics["sections"]["prompts"]["rus"][2] == "dva"
    assert not (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()
    saved = (tmp_path / "run" / "metrics.json").read_text(encoding="utf-8")
    assert json.loads(saved)["splits"]["test"]["overall"]["n"] == 36
