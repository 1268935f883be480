"""PIXEL-M4 as the cascade's rendered-text classifier (vision/pixel_render.py, vision/pixel_text.py): the bigram
rendering's rules, the blank patches masked out of the encoder, a tiny random PIXEL stand-in (saved as Team-PIXEL
ships it) memorising a few texts, and configs/classifier/pixel_m4.yaml through cascade.fit on the tiny corpus."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cascade import fit
from cascade.classifier import TextClassifier
from cascade.data import TextDataset, collate_texts
from tests.helpers.pixel_stand_ins import save_tiny_pixel
from tests.helpers.text_systems_testing import tiny_cascade_args
from vision.pixel_render import LineSettings, render_line
from vision.pixel_text import PixelTextClassifier
from workbench.errors import ConfigError
from workbench.io import read_json
from workbench.items import Item
from workbench.optim import Optim

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LINE = LineSettings(patches=24)
TEXTS = ["march, july, may", "monday, friday", "април, јун", "понедельник", "मई, जून", "შაბათი"]
LABELS = [0, 1, 0, 1, 0, 1]


def patch_ink(pixels: np.ndarray, patch: int = 16) -> np.ndarray:
    """Dark pixels per patch of a rendered line."""
    return (pixels < 128).reshape(patch, -1, patch).sum(axis=(0, 2))


@pytest.fixture(scope="module")
def pixel_folder(tmp_path_factory) -> Path:  # one line of 16 patches, as PIXEL's 16 x 8464 is one of 529
    return save_tiny_pixel(tmp_path_factory.mktemp("pixel-line"), image_size=[16, 256])


def test_bigram_rendering_puts_two_characters_in_a_patch_then_a_black_end_patch():
    pixels, attended = render_line("abcd xy", LINE)
    ink = patch_ink(pixels)
    assert attended == 4 and ink[3] == 16 * 16  # ab | cd | xy, then the black end patch
    assert (ink[:3] > 0).all() and not ink[4:].any()  # blank after the end
    assert np.array_equal(pixels, render_line("abcdxy", LINE)[0])  # words are cut where pairs are: no space drawn
    assert np.array_equal(pixels[:, 16:32], render_line("cd", LINE)[0][:, :16])  # each pair starts a patch
    assert patch_ink(render_line("abc", LINE)[0])[1] < ink[1]  # "c" alone in its patch
    for text in TEXTS:  # every script of the embedded data draws ink (a face with its glyphs)
        lined, patches = render_line(text, LINE)
        assert (patch_ink(lined)[: patches - 1] > 0).all()
    long, patches = render_line("january " * 20, LINE)
    assert patches == LINE.patches and patch_ink(long)[-1] == 16 * 16  # cut: the end patch is the last one


def test_blank_patches_are_masked_out_and_texts_are_read(pixel_folder):
    model = PixelTextClassifier(f"hf-pixel:{pixel_folder}").eval()
    pixels, attended = model.render(TEXTS[:2])
    assert pixels.shape == (2, 3, 16, 256) and pixels.max() == 1 and pixels.min() == 0  # [0, 1], not normalised
    noisy = pixels.clone()
    for row, count in enumerate(attended.tolist()):
        noisy[row, :, :, count * 16 :] = torch.rand_like(noisy[row, :, :, count * 16 :])
    with torch.no_grad():
        pooled = model.pool(pixels, attended)
        assert torch.allclose(pooled, model.pool(noisy, attended), atol=1e-5)  # the blank patches are not seen
        assert not torch.allclose(pooled[0], pooled[1], atol=1e-3)  # two texts, two encodings


def test_the_classifier_memorises_a_few_texts(pixel_folder):
    torch.manual_seed(0)
    model = TextClassifier(PixelTextClassifier(f"hf-pixel:{pixel_folder}", dropout=0.0), 2, optim=Optim(lr=3e-3))
    items = [
        Item(f"i{k}", f"c{k}", "eng", label, "train", text=t)
        for k, (t, label) in enumerate(zip(TEXTS, LABELS, strict=True))
    ]
    loader = DataLoader(TextDataset(items, TEXTS), batch_size=6, shuffle=True, collate_fn=collate_texts)
    trainer = L.Trainer(
        max_epochs=25, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, train_dataloaders=loader)
    assert model.predict_texts(TEXTS).argmax(-1).tolist() == LABELS


def test_bad_checkpoints_are_named(pixel_folder, tmp_path):
    with pytest.raises(ConfigError, match="model.model.init_args.model: .* as hf-pixel:"):
        PixelTextClassifier(str(pixel_folder))
    with pytest.raises(ConfigError, match="image_size \\[32, 32\\] is not one line of 16-pixel patches"):
        PixelTextClassifier(f"hf-pixel:{save_tiny_pixel(tmp_path / 'square', image_size=[32, 32])}")
    with pytest.raises(ConfigError, match="model.model.init_args.model: no PIXEL config"):
        PixelTextClassifier(f"hf-pixel:{tmp_path / 'missing'}")


def test_the_pixel_m4_cascade_runs_through_its_program(pixel_folder, tiny_corpus, tiny_root, tmp_path):
    args = ["-c", str(CONFIGS / "cascade" / "speechtaxi.yaml"), "-c", str(CONFIGS / "recognizer" / "mms.yaml")]
    args += ["-c", str(CONFIGS / "text" / "native.yaml"), "-c", str(CONFIGS / "classifier" / "pixel_m4.yaml")]
    args += tiny_cascade_args(tiny_corpus, tiny_root, tmp_path)
    args += [f"--model.model.init_args.model=hf-pixel:{pixel_folder}", f"--run_dir={tmp_path / 'run'}"]
    fit.main(args)
    metrics = read_json(tmp_path / "run" / "metrics.json")
    record = metrics["record"]
    assert record["system"] == "ca-pixel" and record["model"]["classifier"] == "PixelTextClassifier"
    assert record["training"]["steps"] == 2 and metrics["splits"]["test"]["overall"]["n"] > 0
    assert set(metrics["sections"]["gold_text"]["splits"]["test"]["per_language"]) <= set(tiny_corpus.languages)
