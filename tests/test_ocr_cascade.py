"""The image cascade: Tesseract reads rendered text; cascade.fit runs OCR -> romanize -> classify from config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from cascade import fit
from cascade.asr_text import error_rates
from cascade.recognize import transcribe_items
from cascade.recognizers.tesseract_ocr import TesseractRecognizer, run_tesseract, tesseract_language
from vision import text_images as ti
from workbench.errors import ConfigError, DataError
from workbench.io import read_json, read_jsonl
from workbench.items import Item

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "embedded"
CLEAN = ti.RenderSettings(noise=(0, 0), blur=(0, 0), max_rotation=0.0, font_size=(28, 28))


def _clean_image(folder: Path, name: str, text: str, stem: str) -> str:
    path = folder / f"{name}.jpg"
    path.write_bytes(ti.render(text, stem, CLEAN, draw_seed=0))
    return str(path)


@pytest.mark.parametrize(
    "language,text,stem",
    [("eng", "January, August", "NotoSans-Regular"), ("rus", "январь, август", "NotoSerif-Regular")],
)
def test_tesseract_reads_a_clean_rendered_line(language, text, stem, tmp_path):
    image = _clean_image(tmp_path, language, text, stem)
    recognizer = TesseractRecognizer()
    [read] = recognizer.transcribe([recognizer.read(image, "test")], [language])
    assert error_rates([text], [read])["cer"] <= 0.05, read


def test_batches_keep_the_order_and_the_language_of_each_image(tmp_path):
    texts = [("eng", "Monday, Friday"), ("rus", "понедельник"), ("eng", "Sunday"), ("rus", "пятница, суббота")]
    images = [_clean_image(tmp_path, str(i), t, "NotoSans-Regular") for i, (_, t) in enumerate(texts)]
    # batch_size 1 and 3: per-image processes, and list files of several images
    for batch_size in (1, 3):
        recognizer = TesseractRecognizer(batch_size=batch_size, workers=2)
        reads = recognizer.transcribe(images, [lang for lang, _ in texts])
        assert error_rates([t for _, t in texts], reads)["cer"] <= 0.05, reads


def test_reading_leaves_this_process_environment_alone(tmp_path, monkeypatch):
    """The one-thread limit goes to each tesseract child only. Left in ``os.environ`` it was inherited
    by the demo's training child, whose 2-thread torch then hung in its first backward pass."""
    import subprocess

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    seen = []
    real_run = subprocess.run

    def spy(command, **kwargs):
        seen.append(kwargs["env"].get("OMP_THREAD_LIMIT"))
        return real_run(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    image = _clean_image(tmp_path, "eng", "Monday", "NotoSans-Regular")
    recognizer = TesseractRecognizer(workers=2)
    assert recognizer.transcribe([recognizer.read(image, "test")], ["eng"]) == ["Monday"]
    assert seen == ["1"] and "OMP_THREAD_LIMIT" not in os.environ


def test_a_failing_tesseract_names_the_input_and_the_pack(tmp_path):
    with pytest.raises(DataError, match=r"missing\.png.*tesseract -l eng failed"):
        run_tesseract(str(tmp_path / "missing.png"), "eng", "--psm 6")


def test_bad_languages_and_images_are_named(tmp_path):
    assert tesseract_language("ru") == "rus" and tesseract_language("de-DE") == "deu"
    assert tesseract_language("eng+ru") == "eng+rus"  # several packs at once, Tesseract's syntax
    assert TesseractRecognizer().combined_language(["eng", "xyz", "ru", "rus"]) == "eng+rus"
    assert TesseractRecognizer().combined_language(["xyz"]) is None
    with pytest.raises(ConfigError, match="tesseract-ocr-xyz"):
        tesseract_language("xyz")
    with pytest.raises(ConfigError, match="psm"):
        TesseractRecognizer(psm=99)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(DataError, match="item 'x'"):
        TesseractRecognizer().read(str(broken), "item 'x'")
    item = Item(id="x", content_id="c", language="eng", label=0, split="test", audio="a.flac")
    with pytest.raises(DataError, match="image"):
        transcribe_items(TesseractRecognizer(), [item], tmp_path / "cache")


def test_transcripts_are_cached_by_image_and_language(tmp_path):
    image = _clean_image(tmp_path, "eng", "March", "NotoSans-Regular")
    items = [
        Item(id=f"{lang}-1", content_id="c", language=lang, label=0, split="test", image=image)
        for lang in ("eng", "deu")
    ]
    recognizer = TesseractRecognizer()
    first = transcribe_items(recognizer, items, tmp_path / "cache")
    assert first["eng-1"] == "March"
    calls = []
    recognizer.transcribe = lambda *args: calls.append(args)  # a second run must not read again
    assert transcribe_items(recognizer, items, tmp_path / "cache") == first and not calls


def test_config_parses(capsys):
    args = ["-c", str(CONFIGS / "cascade.yaml"), "-c", str(CONFIGS / "vision_cascade.yaml"), "--print_config"]
    with pytest.raises(SystemExit) as done:
        fit.main(args)
    assert done.value.code in (0, None)
    data = yaml.safe_load(capsys.readouterr().out)["data"]
    assert data["source"]["class_path"] == "vision.text_images.EmbeddedTextImages"
    assert data["recognizer"]["class_path"].endswith("TesseractRecognizer")


@pytest.fixture(scope="module")
def ocr_cache(tmp_path_factory):
    """One transcript cache for the runs below: the second run reads no image again."""
    return tmp_path_factory.mktemp("ocr-cache")


@pytest.mark.parametrize("text", ["romanized", "native"])
def test_vision_cascade_config_runs_tiny(text, tiny_root, ocr_cache, tmp_path):
    """The shipped config on the tiny text-image set: predictions, and Tesseract's CER per language."""
    run_dir = tmp_path / "run"
    fit.main(
        ["-c", str(CONFIGS / "cascade.yaml"), "-c", str(CONFIGS / "vision_cascade.yaml")]
        + [
            f"--data.source.init_args.root={tiny_root}",
            "--data.source.init_args.tiny=true",
            "--data.source.init_args.languages=[eng, rus]",
            f"--data.cache_dir={ocr_cache}",
            f"--data.script={text}",
            "--model.model.init_args.num_buckets=4096",
            "--trainer.max_steps=2",
            "--trainer.limit_val_batches=1",
            f"--run_dir={run_dir}",
        ]
    )
    metrics = read_json(run_dir / "metrics.json")
    rows = read_jsonl(run_dir / "predictions.jsonl")
    assert {r["split"] for r in rows} == {"test", "test_unseen"}
    assert all(r["transcript"] is not None and (r.get("romanized") is not None) == (text == "romanized") for r in rows)
    assert metrics["record"]["system"] == f"ca-{text}"
    for split in ("test", "test_unseen"):
        per_language = metrics["sections"]["asr"][split]["per_language"]
        assert set(per_language) == {"eng", "rus"}
        # the test split's unseen fonts and noise still read well: a real OCR, not noise
        assert per_language["eng"]["cer"] < 0.2 and per_language["rus"]["cer"] < 0.3, per_language
    assert metrics["record"]["model"]["recognizer"]["recognizer"] == "tesseract"
    record = metrics["record"]  # the report pairs this cascade with image E2E runs, not speech ones
    assert record["path"] == "cascade" and record["modality"] == "image"
