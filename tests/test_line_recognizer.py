"""The CTC line recognizer for text in images: its front end, an overfit, its configs and the cascade with it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from cascade import fit, fit_ocr
from cascade.asr_text import error_rates
from cascade.ocr_data import collate_lines
from cascade.recognize import transcribe_items
from cascade.recognizers import CTCCheckpointRecognizer
from vision import lines
from vision import text_images as ti
from vision.text_render import draw_block, wrap
from workbench.errors import DataError
from workbench.io import read_json, read_jsonl
from workbench.runs import RunDir

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "embedded"
HEIGHT = 24
CLEAN = ti.RenderSettings(noise=(0, 0), blur=(0, 0), max_rotation=0.0, font_size=(26, 26))


def _pieces(strip: np.ndarray) -> int:
    """Runs of ink separated by a blank at least as wide as the gap put between lines."""
    blank = strip.max(0) < 0.05
    gap = int(lines.LINE_GAP * strip.shape[0])
    pieces, run = 1, 0
    for is_blank in blank[np.argmax(~blank) :]:
        run = run + 1 if is_blank else 0
        pieces += run == gap
    return pieces - (run >= gap)  # a trailing blank run is no new piece


@pytest.mark.parametrize("angle", [0.0, 3.5, -3.5])
def test_line_strip_lays_the_lines_of_a_rotated_block_end_to_end(angle):
    settings = ti.RenderSettings(width=260, height=160, max_rotation=0.0)
    text = "January, February, March, April"
    mask = draw_block(text, "NotoSans-Regular", 26, settings, angle, 0)
    grey = np.full((settings.height + 40, settings.width + 40), 235, np.uint8)
    grey[20 : 20 + mask.height, 20 : 20 + mask.width] -= (np.asarray(mask) * 0.8).astype(np.uint8)
    assert abs(lines.skew_angle(lines.ink_map(grey)) - angle) <= 1.0
    wrapped = wrap(text, "NotoSans-Regular", 26, int(settings.width * 0.9))
    strip = lines.line_strip(grey, HEIGHT)
    assert len(wrapped) >= 2 and strip.shape[0] == HEIGHT and strip.dtype == np.float32
    assert _pieces(strip) == len(wrapped)
    blank = lines.line_strip(np.full((50, 80), 200, np.uint8), HEIGHT)
    assert blank.shape == (HEIGHT, HEIGHT) and not blank.any()


def test_unreadable_images_are_named(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(DataError, match="item 'x'.*image"):
        lines.load_grey(str(broken), "item 'x'")


def tiny_ocr_args(root, run_dir: Path, target: str = "romanized") -> list[str]:
    """configs/embedded/ocr.yaml + its ``target`` overlay on the tiny text images (English and Russian)."""
    return ["-c", str(CONFIGS / "ocr.yaml"), "-c", str(CONFIGS / "ocr" / f"{target}.yaml")] + [
        f"--data.source.init_args.root={root}",
        "--data.source.init_args.tiny=true",
        "--data.source.init_args.languages=[eng, rus]",
        f"--run_dir={run_dir}",
    ]


@pytest.fixture(scope="module")
def overfitted(tiny_root, tmp_path_factory):
    """The shipped program and config, trained to learn 6 English training images by heart."""
    run_dir = tmp_path_factory.mktemp("ocr-overfit")
    args = tiny_ocr_args(tiny_root, run_dir) + [
        "--data.source.init_args.languages=[eng]",
        "--data.source.init_args.per_language=6",
        f"--model.encoder.init_args.height={HEIGHT}",
        "--model.encoder.init_args.dim=64",
        "--model.encoder.init_args.num_blocks=2",
        "--model.encoder.init_args.stride=3",
        "--model.encoder.init_args.dropout=0",
        "--model.dropout=0",
        "--model.optim.lr=0.01",
        "--trainer.max_steps=200",
        "--trainer.min_steps=0",
        "--trainer.limit_val_batches=0",  # no validation: best.ckpt holds the final weights
        "--threads=1",  # small convolutions: one thread is faster on a busy CPU
    ]
    program = fit_ocr.main(args)
    items = program.datamodule.selection["train"]
    return {"items": items, "checkpoint": str(RunDir(run_dir).best_checkpoint())}


def test_line_recognizer_overfits_a_few_images(overfitted, ocr_runs, tmp_path):
    """Front end + CTC learn 6 images by heart; the same config after 2 steps reads nothing."""
    items = overfitted["items"]
    refs = [i.romanized for i in items]
    assert len(items) == 6
    untrained = CTCCheckpointRecognizer(str(RunDir(ocr_runs["romanized"]).best_checkpoint()), device="cpu")
    before = transcribe_items(untrained, items, tmp_path / "cache")
    assert error_rates(refs, [before[i.id] for i in items])["cer"] > 0.8
    recognizer = CTCCheckpointRecognizer(overfitted["checkpoint"], device="cpu")
    after = transcribe_items(recognizer, items, tmp_path / "cache")
    cer = error_rates(refs, [after[i.id] for i in items])["cer"]
    assert cer < 0.15, f"train CER {cer:.3f}"


def test_the_checkpoint_alone_reads_images_in_the_cascade(overfitted, tmp_path):
    """CTCCheckpointRecognizer learns from the checkpoint that it reads images, and prepares them itself."""
    items = overfitted["items"]
    recognizer = CTCCheckpointRecognizer(overfitted["checkpoint"], batch_size=4, device="cpu")
    assert recognizer.signal == "image" and recognizer.script == "romanized"
    texts = transcribe_items(recognizer, items, tmp_path / "cache")
    model = recognizer.model
    encoder = model.encoder
    batch = collate_lines(
        [
            (k, np.round(encoder.prepare(lines.load_grey(i.image, "t")) * 255).astype(np.uint8), 0, i.id, [1])
            for k, i in enumerate(items)
        ]
    )
    direct = model.transcribe_batch(batch["waves"], batch["lengths"])
    assert [texts[i.id] for i in items] == direct  # batching, padding and caching change nothing
    no_image = dataclasses.replace(items[0], image=None, audio="x.flac")
    with pytest.raises(DataError, match="image"):
        transcribe_items(recognizer, [no_image], tmp_path / "cache")


@pytest.mark.parametrize("overlay", [None, "native", "romanized"])
def test_ocr_config_parses(overlay, capsys):
    args = ["-c", str(CONFIGS / "ocr.yaml")] + (["-c", str(CONFIGS / "ocr" / f"{overlay}.yaml")] if overlay else [])
    with pytest.raises(SystemExit) as done:
        fit_ocr.main([*args, "--print_config"])
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["encoder"]["class_path"] == "vision.line_encoder.LineEncoder"
    assert printed["data"]["script"] == (overlay or "romanized")


def test_every_ocr_overlay_is_run():
    assert {p.stem for p in (CONFIGS / "ocr").glob("*.yaml")} == {"native", "romanized"}
    assert {p.stem for p in (CONFIGS / "vision_cascade").glob("*.yaml")} == {"line_ctc"}


@pytest.fixture(scope="module")
def ocr_runs(tiny_root, tmp_path_factory):
    """configs/embedded/ocr.yaml with each overlay on the tiny text images (a few steps): {target: run dir}."""
    out = {}
    for target in ("romanized", "native"):
        run_dir = tmp_path_factory.mktemp(f"ocr-{target}")
        fit_ocr.main(
            tiny_ocr_args(tiny_root, run_dir, target)
            + [
                "--model.encoder.init_args.dim=32",
                "--model.encoder.init_args.num_blocks=1",
                "--trainer.max_steps=2",
                "--trainer.min_steps=0",
                "--trainer.limit_val_batches=1",
            ]
        )
        out[target] = run_dir
    return out


@pytest.mark.parametrize("target", ["romanized", "native"])
def test_ocr_config_runs_tiny(target, ocr_runs):
    metrics = read_json(ocr_runs[target] / "metrics.json")
    record = metrics["record"]
    assert record["path"] == "recognizer" and record["modality"] == "image"
    assert metrics["record"]["model"]["script"] == target and record["training"]["steps"] == 2
    for split in ("test", "test_unseen"):
        assert set(metrics["sections"]["asr"][split]["per_language"]) == {"eng", "rus"}
    rows = read_jsonl(ocr_runs[target] / "transcripts.jsonl")
    assert {r["split"] for r in rows} == {"test", "test_unseen"}
    native = any(ord(ch) > 0x400 for r in rows if r["language"] == "rus" for ch in r["reference"])
    assert native == (target == "native")


def test_vision_cascade_runs_with_the_trained_line_recognizer(ocr_runs, tiny_root, tmp_path):
    """The sweep's command: the image cascade with --data.recognizer.init_args.checkpoint of an ocr run."""
    checkpoint = ocr_runs["romanized"] / "checkpoints" / "best.ckpt"
    fit.main(
        ["-c", str(CONFIGS / "cascade.yaml"), "-c", str(CONFIGS / "vision_cascade.yaml")]
        + ["-c", str(CONFIGS / "vision_cascade" / "line_ctc.yaml")]
        + [
            f"--data.recognizer.init_args.checkpoint={checkpoint}",
            f"--data.source.init_args.root={tiny_root}",
            "--data.source.init_args.tiny=true",
            "--data.source.init_args.languages=[eng, rus]",
            f"--data.cache_dir={tmp_path / 'cache'}",
            "--model.model.init_args.num_buckets=4096",
            "--trainer.max_steps=2",
            "--trainer.limit_val_batches=1",
            f"--run_dir={tmp_path / 'run'}",
        ]
    )
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics["record"]["path"] == "cascade" and metrics["record"]["modality"] == "image"
    assert metrics["record"]["model"]["recognizer"]["recognizer"] == "ctc"
    assert set(metrics["sections"]["asr"]["test"]["per_language"]) == {"eng", "rus"}
    rows = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert rows and all(r["transcript"] is not None for r in rows)
