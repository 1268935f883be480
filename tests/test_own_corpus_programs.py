"""A researcher's own flat AudioFolder (native transcripts only, 8 languages, 22 kHz stereo among the clips,
split column train/validation/test) runs through speech.fit, cascade.fit_asr (romanized targets derived) and
cascade.fit with ONE data config and no hand conversion; bad audio is met before training starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.audio_fixtures import bad_audio, tone, write_audio
from tests.helpers.own_corpus import LANGUAGES, build_own_corpus, data_config
from workbench.errors import DataError
from workbench.io import read_json, read_jsonl
from workbench.runs import RunDir

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "configs" / "embedded"


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("own")
    root = build_own_corpus(folder / "corpus")
    data = folder / "data.yaml"
    data.write_text(data_config(root, folder / "cache"))
    return {"root": root, "data": str(data), "folder": folder}


def tiny_run(run_dir: Path) -> list[str]:
    return [
        "--trainer.accelerator=cpu",
        "--trainer.max_epochs=1",
        "--trainer.max_steps=3",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--model.encoder.init_args.dim=32",
        "--model.encoder.init_args.num_blocks=1",
        f"--run_dir={run_dir}",
    ]


def test_own_folder_through_e2e_and_both_cascades(own, tmp_path):
    from cascade import fit, fit_asr
    from speech.fit import main as speech_fit

    # E2E, zero-shot from eng to every other language of the folder
    speech_fit(
        [
            "-c",
            str(EMBEDDED / "speech.yaml"),
            "-c",
            own["data"],
            "-c",
            str(REPO / "configs/protocol/zero_shot.yaml"),
        ]
        + tiny_run(tmp_path / "e2e")
        + ["--data.batch_size=8", f"--model.cache_dir={tmp_path}/e2e-cache"]
    )
    metrics = read_json(tmp_path / "e2e" / "metrics.json")
    assert set(metrics["splits"]["test"]["per_language"]) == set(LANGUAGES)
    assert metrics["splits"]["test"]["overall"]["n"] == 3 * len(LANGUAGES)  # 'validation' was read as dev

    # the romanizing recognizer, trained on targets derived by uroman from the native transcripts
    fit_asr.main(["-c", str(EMBEDDED / "asr.yaml"), "-c", own["data"]] + tiny_run(tmp_path / "asr"))
    asr = read_json(tmp_path / "asr" / "metrics.json")
    assert asr["record"]["model"]["script"] == "romanized"
    assert set(asr["sections"]["asr"]["test"]["per_language"]) == set(LANGUAGES)

    # the cascade: that recognizer -> romanized text -> text classifier trained on derived romanized gold
    fit.main(
        ["-c", str(EMBEDDED / "cascade.yaml"), "-c", own["data"]]
        + [
            f"--data.recognizer.init_args.checkpoint={RunDir(tmp_path / 'asr').best_checkpoint()}",
            f"--data.cache_dir={tmp_path}/cascade-cache",
            "--model.model.init_args.num_buckets=4096",
            "--trainer.accelerator=cpu",
            "--trainer.max_steps=3",
            "--trainer.enable_progress_bar=false",
            f"--run_dir={tmp_path / 'ca'}",
        ]
    )
    cascade = read_json(tmp_path / "ca" / "metrics.json")
    assert set(cascade["sections"]["gold_text"]["splits"]["test"]["per_language"]) == {"eng"}
    rows = read_jsonl(tmp_path / "ca" / "predictions.jsonl")
    assert rows and all("transcript" in r and "romanized" in r for r in rows)


# -- bad audio met before training, through the program ---------------------------------------------------------
def manifest_overlay(folder: Path, bad: tuple[Path, str] | None, on_bad_item: str) -> str:
    rows = []
    for i in range(8):
        write_audio(folder / "good" / f"{i}.wav", tone(0.3, freq=200 + 150 * (i % 2)))
        split = "train" if i < 4 else ("dev" if i < 6 else "test")
        rows.append({"id": f"g{i}", "audio": f"good/{i}.wav", "language": "eng", "label": "ab"[i % 2], "split": split})
    if bad:
        rows.append({"id": "bad", "audio": str(bad[0]), "language": "eng", "label": "a", "split": "train"})
    (folder / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    overlay = folder / "data.yaml"
    overlay.write_text(
        "data:\n  source:\n    class_path: workbench.data.sources.Manifest\n    init_args:\n"
        f"      path: {folder / 'm.jsonl'}\n      cache_dir: {folder / 'cache'}\n      on_bad_item: {on_bad_item}\n"
    )
    return str(overlay)


@pytest.mark.parametrize("kind", ["fake", "empty", "truncated", "nan"])
def test_speech_fit_names_bad_audio_before_training(kind, tmp_path, monkeypatch):
    from lightning.pytorch import Trainer

    from speech.fit import main as speech_fit

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the bad audio was found")

    monkeypatch.setattr(Trainer, "fit", no_training)
    bad = bad_audio(tmp_path / "bad")[kind]
    overlay = manifest_overlay(tmp_path, bad, "raise")
    with pytest.raises(DataError, match=rf"item 'bad' field 'audio': {bad[1]}"):
        speech_fit(["-c", str(EMBEDDED / "speech.yaml"), "-c", overlay] + tiny_run(tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing was trained


def test_speech_fit_skips_every_kind_of_bad_audio_and_counts_it(tmp_path):
    from speech.fit import main as speech_fit

    overlay = manifest_overlay(tmp_path, None, "skip")
    rows = (tmp_path / "m.jsonl").read_text()
    for kind, (path, _) in bad_audio(tmp_path / "bad").items():
        row = {"id": kind, "audio": str(path), "language": "eng", "label": "a", "split": "train"}
        rows += json.dumps(row) + "\n"
    (tmp_path / "m.jsonl").write_text(rows)
    cli = speech_fit(["-c", str(EMBEDDED / "speech.yaml"), "-c", overlay] + tiny_run(tmp_path / "run"))
    skipped = cli.datamodule.corpus.meta["skipped"]
    assert skipped["skipped"] == 4 and {k.split("'")[1] for k in skipped["items"]} == {
        "fake",
        "empty",
        "truncated",
        "nan",
    }
    assert [i.id for i in cli.datamodule.selection["train"]] == [f"g{i}" for i in range(4)]
    # the skips are reported in the run's metrics.json, not only logged
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["sections"]["data_checks"]["skipped"]["skipped"] == 4


def test_the_program_command_line_stops_on_a_non_audio_wav_before_training(tmp_path):
    """Before: ``soundfile.LibsndfileError`` at the first batch holding the file, mid-training."""
    overlay = manifest_overlay(tmp_path, bad_audio(tmp_path / "bad")["fake"], "raise")
    command = [sys.executable, "-m", "speech.fit", "-c", str(EMBEDDED / "speech.yaml"), "-c", overlay]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        command + tiny_run(tmp_path / "run"), cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode != 0
    assert "item 'bad' field 'audio': not decodable audio" in result.stderr
    assert "LibsndfileError" not in result.stderr and not (tmp_path / "run" / "checkpoints").exists()
