"""Every program learns: trained through its real CLI on a tiny corpus, it beats chance on the test split.

The overfit tests elsewhere drive modules directly; these go through everything a real run
uses (the source, the protocol, the data module, the length-bucket sampler, the schedule,
checkpoint selection, the results writer), so an item whose audio, text or image no longer
matches its label fails here even where every shape and file layout is right.

"Beats chance" means: an accuracy that a guesser (uniform over the classes) reaches with
probability below 1/1000 on a test split of that size (binomial tail), and a recognizer whose
character error rate is well below what emitting nothing or one fixed string gives.

Negative control: ``XLING_SHUFFLE_TRAINING=1 python -m pytest tests/test_learning.py`` permutes
the training rows' audio (speech: so clips no longer match their labels and transcripts) and
the training images' labels (vision) in the fixtures; every test here must then fail.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from scipy.stats import binom

from workbench.runs import RunDir

pytestmark = pytest.mark.long  # several real trainings in fresh processes: beyond the default run's budget

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHUFFLE = os.environ.get("XLING_SHUFFLE_TRAINING") == "1"
GUESS_PROBABILITY = 1e-3  # how often a uniform guesser may reach the asserted accuracy
MAX_CER = 0.7  # nothing learned: blanks give 1.0; trained on shuffled pairs, its spelling habits give 0.83


def chance_ceiling(n: int, classes: int) -> float:
    """The accuracy a uniform guesser over ``classes`` exceeds with probability < GUESS_PROBABILITY on ``n`` items."""
    return float(binom.isf(GUESS_PROBABILITY, n, 1 / classes)) / n


def assert_beats_chance(metrics: dict, split: str = "test") -> float:
    overall = metrics["splits"][split]["overall"]
    classes = len(metrics["record"]["label_names"])
    ceiling = chance_ceiling(overall["n"], classes)
    assert overall["accuracy"] > ceiling, (split, overall, f"chance ceiling {ceiling:.3f} for {classes} classes")
    return overall["accuracy"]


def read_metrics(run_dir: Path) -> dict:
    return RunDir(run_dir).metrics()


def shuffle_training_audio(build: Path) -> None:
    """Permute the ``audio`` column among the training rows of an embedded build's manifest."""
    manifest = build / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    train = [row for row in rows if row["split"] == "train"]
    audio = [(row["audio"], row["duration_s"]) for row in train]
    random.Random(0).shuffle(audio)
    for row, (path, seconds) in zip(train, audio, strict=True):
        row["audio"], row["duration_s"] = path, seconds
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def speech_root(tiny_corpus, tiny_root, tmp_path_factory) -> Path:
    """The session's tiny embedded corpus (4 languages, 24 training clips each, 6 classes)."""
    if not SHUFFLE:
        return tiny_root
    build = Path(tiny_corpus.meta["folder"])
    root = tmp_path_factory.mktemp("shuffled-embedded")
    shutil.copytree(build, root / build.name)
    shuffle_training_audio(root / build.name)
    return root


def embedded_data(root: Path) -> list[str]:
    return [f"--data.source.init_args.root={root}", "--data.source.init_args.tiny=true"]


@pytest.fixture(scope="module")
def recognizer_run(speech_root, tmp_path_factory) -> Path:
    """``python -m cascade.fit_asr`` (romanized CTC, every language) with a small encoder."""
    from cascade import fit_asr

    run = tmp_path_factory.mktemp("learning") / "asr"
    fit_asr.main(
        ["-c", str(CONFIGS / "embedded" / "asr.yaml"), *embedded_data(speech_root)]
        + ["--model.encoder.init_args.dim=64", "--model.encoder.init_args.num_blocks=3"]
        + ["--data.batch_size=8", "--trainer.max_epochs=30", "--trainer.enable_model_summary=false"]
        + [f"--run_dir={run}"]
    )
    return run


def test_recognizer_learns_to_transcribe(recognizer_run):
    asr = read_metrics(recognizer_run)["sections"]["asr"]
    for split in ("test", "test_unseen"):
        assert asr[split]["overall"]["n"] > 0
        assert asr[split]["overall"]["cer"] < MAX_CER, (split, asr[split]["overall"])


def test_speech_e2e_learns(speech_root, tmp_path):
    from speech.fit import main

    run = tmp_path / "e2e"
    main(
        ["-c", str(CONFIGS / "embedded" / "speech.yaml"), *embedded_data(speech_root)]
        + ["-c", str(CONFIGS / "protocol" / "all_languages.yaml")]
        + ["--model.encoder.init_args.dim=64", "--model.encoder.init_args.num_blocks=3"]
        + [f"--model.cache_dir={run}/cache", "--data.batch_size=8", "--trainer.max_epochs=15"]
        + ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", f"--run_dir={run}"]
    )
    metrics = read_metrics(run)
    assert set(metrics["splits"]["test"]["per_language"]) == {"eng", "deu", "rus", "tha"}
    assert_beats_chance(metrics)


def test_cascade_learns_on_its_recognizers_transcripts(speech_root, recognizer_run, tmp_path):
    from cascade import fit

    run = tmp_path / "cascade"
    checkpoint = RunDir(recognizer_run).best_checkpoint()
    fit.main(
        ["-c", str(CONFIGS / "embedded" / "cascade.yaml"), *embedded_data(speech_root)]
        + ["-c", str(CONFIGS / "protocol" / "all_languages.yaml"), "-c", str(CONFIGS / "train_on" / "asr.yaml")]
        + [f"--data.recognizer.init_args.checkpoint={checkpoint}", f"--data.cache_dir={tmp_path}/cache"]
        + ["--trainer.enable_model_summary=false", f"--run_dir={run}"]
    )
    metrics = read_metrics(run)
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(row["transcript"] for row in rows)  # classified from what the recognizer wrote
    assert_beats_chance(metrics)


def shuffle_training_digit_labels(source) -> None:
    """Permute the labels of the training images in a built digits folder (``images.json``)."""
    from vision.digits import split_contents

    manifest = source.folder() / "images.json"
    rows = json.loads(manifest.read_text(encoding="utf-8"))
    splits = split_contents(len(rows), source.seed, source.dev, source.test)
    train = [row for row, split in zip(rows, splits, strict=True) if split == "train"]
    labels = [row["label"] for row in train]
    random.Random(0).shuffle(labels)
    for row, label in zip(train, labels, strict=True):
        row["label"] = label
    manifest.write_text(json.dumps(rows), encoding="utf-8")


def test_vision_learns(tmp_path):
    from vision.digits import Digits
    from vision.fit import main

    source = Digits(root=str(tmp_path / "data"), tiny=True, per_language=400)
    source.load()  # builds the images
    if SHUFFLE:
        shuffle_training_digit_labels(source)
    run = tmp_path / "vision"
    main(
        ["-c", str(CONFIGS / "embedded" / "vision.yaml"), "--data.source.init_args.root", str(tmp_path / "data")]
        + ["--data.source.init_args.tiny", "true", "--data.source.init_args.per_language", "400"]
        + ["--data.batch_size", "32", "--trainer.enable_model_summary", "false", "--run_dir", str(run)]
    )
    assert_beats_chance(read_metrics(run))
