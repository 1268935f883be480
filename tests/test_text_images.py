"""The text-in-image set: the speech set's items as images, deterministic, every script drawn."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from vision import text_images as ti
from vision.text_render import draw_block
from workbench.data.cldr_text import DEFAULT_LANGUAGES, item_names, language_spec
from workbench.data.embedded import EmbeddedSettings, plan_rows, tiny_settings
from workbench.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_images(tiny_root):
    """The tiny text-image set, in the same root as the tiny speech set (its own folder)."""
    return ti.EmbeddedTextImages(root=str(tiny_root), tiny=True).load()


def _fields(corpus) -> dict:
    return {i.id: (i.content_id, i.language, i.label, i.split, i.text) for i in corpus.items}


def test_same_items_labels_and_splits_as_the_speech_set(tiny_images, tiny_corpus):
    assert tiny_images.label_names == tiny_corpus.label_names
    assert _fields(tiny_images) == _fields(tiny_corpus)
    assert all(Path(i.image).is_file() and i.audio is None for i in tiny_images.items)
    romanized = {i.id: i.romanized for i in tiny_corpus.items}
    assert {i.id: i.romanized for i in tiny_images.items} == romanized


def test_build_is_deterministic_and_independent_of_workers(tiny_images, tmp_path):
    text = tiny_settings(languages=("eng", "tha"), per_language=6, dev_per_language=2)
    a = ti.build_text_images(text, ti.RenderSettings(), tmp_path / "a", workers=1)
    b = ti.build_text_images(text, ti.RenderSettings(), tmp_path / "b", workers=2)
    assert a.name == b.name  # the folder is named by the settings
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()
    images = sorted(p.relative_to(a) for p in (a / "images").rglob("*.jpg"))
    assert len(images) == 2 * (6 + 2 + 12 + 8)
    digest = {p: hashlib.sha256((a / p).read_bytes()).hexdigest() for p in images}
    assert digest == {p: hashlib.sha256((b / p).read_bytes()).hexdigest() for p in images}
    # another seed is another build with other images
    other = ti.build_dir(tiny_settings(languages=("eng", "tha"), seed=1), ti.RenderSettings(), tmp_path)
    assert other.name != a.name


def test_unseen_fonts_at_test_time(tiny_images):
    from workbench.io import read_jsonl

    rows = read_jsonl(Path(tiny_images.meta["folder"]) / "manifest.jsonl")
    for row in rows:
        script = language_spec(row["language"]).script
        fonts = ti.TRAIN_FONTS[script] if row["split"] == "train" else ti.TEST_FONTS[script]
        assert row["font"] in fonts, row["id"]
    for script in ti.TRAIN_FONTS:
        assert not set(ti.TRAIN_FONTS[script]) & set(ti.TEST_FONTS[script])
    used = {row["font"] for row in rows}
    assert len(used) > 6  # several fonts per script are drawn, not one


def _ink(text: str, stem: str) -> np.ndarray:
    mask = draw_block(text, stem, 24, ti.RenderSettings(), angle=0.0, align=0)
    return np.asarray(mask) > 128


@pytest.mark.parametrize("language", DEFAULT_LANGUAGES)
def test_every_script_renders_in_every_font(language):
    script = language_spec(language).script
    names = item_names(language)
    first, second = names["months"]["jan"], names["weekdays"]["fri"]
    for stem in ti.TRAIN_FONTS[script] + ti.TEST_FONTS[script]:
        a, b = _ink(f"{first}, {second}", stem), _ink(f"{second}, {first}", stem)
        assert a.sum() > 50, (language, stem)
        assert a.shape != b.shape or (a != b).any(), (language, stem)


def test_every_glyph_of_the_default_set_exists_in_its_fonts():
    rows, _ = plan_rows(EmbeddedSettings())
    ti.check_coverage(rows)  # raises on a missing glyph (a tofu box)
    # and the check can fail: a font without Thai glyphs cannot draw Thai
    bad = [r for r in rows if r.language == "tha"][:1]
    original = ti.fonts_for
    try:
        ti.fonts_for = lambda language, split: ("NotoSans-Regular",)
        with pytest.raises(ConfigError, match="NotoSans-Regular"):
            ti.check_coverage(bad)
    finally:
        ti.fonts_for = original


def test_images_vary_within_a_content(tiny_images):
    from PIL import Image

    same = [i for i in tiny_images.items if i.split == "train" and i.language == "eng"][:2]
    a, b = (np.asarray(Image.open(i.image).convert("L"), dtype=np.float32) for i in same)
    assert a.shape == b.shape == (ti.RenderSettings().height, ti.RenderSettings().width)
    assert np.abs(a - b).mean() > 1.0


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="font_size"):
        ti.RenderSettings(font_size=(30, 10))
    with pytest.raises(ConfigError, match="source.render"):
        ti.EmbeddedTextImages(render={"colour": 3}).settings()
    with pytest.raises(ConfigError, match="fonts-noto-core"):
        ti.font_path("NoSuchFont-Regular")


def test_vision_fit_trains_on_it_by_config(tiny_images, tiny_root, tmp_path):
    """The E2E side reads the same set: vision.fit with a head on the image tower, two steps."""
    from vision.fit import main

    main(
        ["-c", "configs/embedded/vision.yaml", "-c", "configs/embedded/vision/head.yaml"]
        + ["--data.source=vision.text_images.EmbeddedTextImages", f"--data.source.root={tiny_root}"]
        + ["--data.source.tiny=true", "--trainer.max_steps=2", "--trainer.limit_val_batches=1"]
        + ["--data.batch_size=16", f"--run_dir={tmp_path / 'run'}"]
    )
    rows = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    # the base config's protocol: in_language on eng, tested on test and test_unseen
    assert len(rows) == sum(1 for i in tiny_images.items if i.split.startswith("test") and i.language == "eng")
