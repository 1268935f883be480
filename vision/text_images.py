"""The embedded text-in-image set: the embedded default's texts rendered as images, offline.

Same plan as the speech set (:func:`workbench.data.embedded.plan_rows`: the same ``content_id``,
label, split and text per item; no audio is made), drawn with the Noto fonts Debian's
``fonts-noto-core`` installs, in all eight scripts' languages. Each image varies font, size,
line breaks, position, a slight rotation, ink colour, a paper-like background texture,
blur and pixel noise, all drawn from ``rng_for(seed, "render", item id)``: an image depends
only on the settings and its id. Training images use :data:`TRAIN_FONTS`; dev, test and
test_unseen use :data:`TEST_FONTS` (unseen fonts, as the speech set has unseen voices).

Cached like the speech set: ``<root>/text_images-<hash>/`` with ``images/<lang>/<id>.jpg``,
``manifest.jsonl`` and ``dataset.json`` (written last: its presence marks a finished build).

Example:
    >>> corpus = EmbeddedTextImages(tiny=True).load()   # builds on first call
    >>> corpus.items[0].image
    'data/text_images-.../images/eng/eng-train-0000.jpg'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from vision.text_render import TEST_FONTS, TRAIN_FONTS, RenderSettings, covered, fallback_font, font_path, render
from workbench.data.cldr_text import CLASSES, language_spec
from workbench.data.embedded import EmbeddedSettings, build_lock, is_built, plan_rows, remove_partial_files
from workbench.data.plan import PlannedUtterance, rng_for
from workbench.data.sources import EmbeddedPlan
from workbench.errors import ConfigError
from workbench.io import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, read_json, read_jsonl
from workbench.items import Corpus, Item
from workbench.romanize import default_romanizer

log = logging.getLogger(__name__)

#: Bump when the same settings would render different images.
FORMAT_VERSION = 1
MAX_WORKERS = 8
CHUNK = 64  # images per worker task

__all__ = ["EmbeddedTextImages", "RenderSettings", "TEST_FONTS", "TRAIN_FONTS", "font_path", "render"]


def fonts_for(language: str, split: str) -> tuple[str, ...]:
    """The fonts an item of ``language`` in ``split`` may be drawn in."""
    table = TRAIN_FONTS if split == "train" else TEST_FONTS
    return table[language_spec(language).script]


def check_coverage(rows: list[PlannedUtterance]) -> None:
    """Raise ConfigError when neither a font nor its fallback has a glyph the text needs (tofu boxes)."""
    needed: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        for stem in fonts_for(row.language, row.split):
            needed.setdefault((stem, row.language), set()).update(row.text)
    for (stem, language), chars in sorted(needed.items()):
        missing = sorted(ch for ch in chars if not covered(stem, ch) and not covered(fallback_font(stem), ch))
        if missing:
            raise ConfigError(f"font '{stem}' has no glyph for {missing[:5]} used by language '{language}'")


def draw_style(seed: int, row: PlannedUtterance) -> tuple[str, int]:
    """The font of one image and the seed of its other draws, from the seed and the item id only."""
    rng = rng_for(seed, "render", row.id)
    return rng.choice(fonts_for(row.language, row.split)), rng.getrandbits(63)


def _render_chunk(jobs: list[tuple[str, str, str, int]], folder: str, settings: RenderSettings) -> None:
    """Worker: write each ``(path, text, font, draw seed)`` image unless it exists (resumable)."""
    for path, text, stem, draw_seed in jobs:
        target = Path(folder) / path
        if not target.is_file():
            atomic_write_bytes(target, render(text, stem, settings, draw_seed))


def _versions() -> dict:
    import babel
    import PIL

    return {"format": FORMAT_VERSION, "babel": babel.__version__, "pillow": PIL.__version__}


def build_dir(text: EmbeddedSettings, render_settings: RenderSettings, root: str | Path) -> Path:
    """Where the build of these settings lives (built or not): named by their hash and the tool versions."""
    fonts = {s: [TRAIN_FONTS[s], TEST_FONTS[s]] for s in TRAIN_FONTS}
    payload = {"text": text.to_dict(), "render": asdict(render_settings), "fonts": fonts, "versions": _versions()}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
    return Path(root) / f"text_images-{digest}"


def build_text_images(
    text: EmbeddedSettings, render_settings: RenderSettings, root: str | Path = "data", workers: int | None = None
) -> Path:
    """Render the text-image set of these settings under ``root`` unless built; return its folder.

    ``workers`` (default: CPU count, at most 8) processes render; it never changes the data.
    """
    folder = build_dir(text, render_settings, root)
    if is_built(folder):
        return folder
    with build_lock(folder):
        if not is_built(folder):
            _build(text, render_settings, folder, workers or max(1, min(MAX_WORKERS, os.cpu_count() or 1)))
    return folder


def _build(text: EmbeddedSettings, render_settings: RenderSettings, folder: Path, workers: int) -> None:
    started = time.perf_counter()
    remove_partial_files(folder)
    rows, held = plan_rows(text)
    check_coverage(rows)
    styles = [draw_style(text.seed, row) for row in rows]
    jobs = [(f"images/{r.language}/{r.id}.jpg", r.text, stem, s) for r, (stem, s) in zip(rows, styles, strict=True)]
    log.info("rendering %d images into %s with %d workers", len(rows), folder, workers)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_render_chunk, jobs[i : i + CHUNK], str(folder), render_settings)
            for i in range(0, len(jobs), CHUNK)
        ]
        romanizer = default_romanizer()  # runs here while the workers render
        romanized = [romanizer.romanize(row.text, row.language) for row in rows]
        for future in futures:
            future.result()
    records = [
        {
            "id": row.id,
            "content_id": row.content.content_id,
            "language": row.language,
            "label": row.content.cls,
            "split": row.split,
            "image": job[0],
            "text": row.text,
            "romanized": roman,
            "items": list(row.content.keys),
            "held_out": list(row.held_out),
            "font": job[2],
        }
        for row, job, roman in zip(rows, jobs, romanized, strict=True)
    ]
    atomic_write_jsonl(folder / "manifest.jsonl", records)
    meta = {
        "name": folder.name,
        "label_names": list(CLASSES),
        "text_settings": text.to_dict(),
        "render_settings": asdict(render_settings),
        "versions": _versions(),
        "held_out": {cls: list(keys) for cls, keys in held.items() if keys},
        "images": len(records),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_json(folder / "dataset.json", meta)  # last: marks the build as finished


def load_text_images(
    text: EmbeddedSettings, render_settings: RenderSettings | None = None, root: str | Path = "data"
) -> Corpus:
    """The text-image set as a :class:`Corpus` (built first if needed); ``meta`` holds ``dataset.json``."""
    folder = build_text_images(text, render_settings or RenderSettings(), root)
    items = [
        Item(
            id=row["id"],
            content_id=row["content_id"],
            language=row["language"],
            label=CLASSES.index(row["label"]),
            split=row["split"],
            image=str(folder / row["image"]),
            text=row["text"],
            romanized=row["romanized"],
        )
        for row in read_jsonl(folder / "manifest.jsonl")
    ]
    corpus = Corpus(items, list(CLASSES), name=folder.name, meta=read_json(folder / "dataset.json"))
    corpus.meta["folder"] = str(folder)
    return corpus


class EmbeddedTextImages(EmbeddedPlan):
    """The embedded default's texts as images (same items, labels and splits as the speech set).

    Takes the speech source's arguments (``root``, ``languages``, ``per_language``, ``seed``,
    ``tiny``: the same text plan), plus:

    Args:
        render: overrides of :class:`RenderSettings` fields (``width``, ``font_size``...).
    """

    def __init__(self, render: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.render = dict(render or {})

    def settings(self) -> tuple[EmbeddedSettings, RenderSettings]:
        """The text plan's settings (as the speech set's) and the render settings."""
        try:
            return super().settings(), RenderSettings(**self.render)
        except TypeError as err:
            raise ConfigError(f"source.render: {err}") from None

    def load(self) -> Corpus:
        text, render_settings = self.settings()
        return load_text_images(text, render_settings, self.root)

    def load_for(self, protocol) -> Corpus:
        """The whole set whatever the protocol: images build in about a minute, unlike the speech
        source whose per-language parts this would otherwise ask for."""
        return self.load()
