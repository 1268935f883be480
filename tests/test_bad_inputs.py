"""Broken inputs at every entry point get a clear error naming the item/field/key, never a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech.audio import SAMPLE_RATE, load_audio
from workbench.errors import DataError
from workbench.items import Item

ROOT = Path(__file__).resolve().parents[1]


def test_twenty_minute_file_is_capped_without_decoding_it_all(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    sf.write(path, (0.1 * rng.standard_normal(20 * 60 * 8000)).astype(np.float32), 8000, subtype="PCM_16")
    decoded = []  # frames each read returned: counted, not timed, so a busy machine cannot fail it
    read = sf.SoundFile.read

    def counting_read(self, *args, **kwargs):
        frames = read(self, *args, **kwargs)
        decoded.append(len(frames))
        return frames

    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    audio = load_audio(path, max_seconds=30.0)
    assert len(audio) == 30 * SAMPLE_RATE
    # reading 30 s of a 20-minute file decodes those 30 s (and a frame), not 20 minutes
    assert 0 < sum(decoded) <= 30 * 8000 + 1


def test_corrupt_and_fake_images_are_named(tmp_path):
    from PIL import Image

    from vision.datamodule import ImageDataModule
    from workbench.data.sources import Manifest
    from workbench.protocols import Protocol

    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:40])
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    module = ImageDataModule(Manifest(str(tmp_path / "unused.csv")), Protocol("all_languages"))
    module.check_item(Item("ok", "ok", "eng", 0, "train", image=str(good)))
    for path in (truncated, fake):
        with pytest.raises(DataError, match=rf"item '{path.stem}' field 'image'.*corrupt or unreadable"):
            module.check_item(Item(path.stem, path.stem, "eng", 0, "train", image=str(path)))


def test_empty_and_mixed_script_transcripts_are_classified():
    import torch

    from cascade.classifier import TextClassifier
    from cascade.text_models import CharNgramModel

    torch.manual_seed(0)
    model = TextClassifier(CharNgramModel(num_buckets=1 << 10, dim=8, dropout=0.0), num_classes=3)
    probs = model.predict_texts(["", "   ", "Январь and ਜਨਵਰੀ 1月", "a" * 5000])
    assert probs.shape == (4, 3) and torch.isfinite(probs).all()
    assert torch.allclose(probs.sum(dim=1), torch.ones(4), atol=1e-5)


@pytest.mark.parametrize(
    "program, config",
    [
        ("speech.fit", "configs/embedded/speech.yaml"),
        ("cascade.fit", "configs/embedded/cascade.yaml"),
        ("cascade.fit_asr", "configs/embedded/asr.yaml"),
        ("vision.fit", "configs/embedded/vision.yaml"),
    ],
)
def test_config_key_typo_is_named(program, config, tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("model:\n  lrr: 0.1\n")
    result = subprocess.run(
        [sys.executable, "-m", program, "-c", config, "-c", str(typo), "--print_config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "lrr" in result.stderr and "Traceback" not in result.stderr
