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
import io
import json
import logging
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

from workbench.data.cldr_text import CLASSES, language_spec
from workbench.data.embedded import EmbeddedSettings, PlannedUtterance, plan_rows
from workbench.data.plan import rng_for
from workbench.data.sources import Embedded
from workbench.errors import ConfigError
from workbench.io import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, read_json, read_jsonl
from workbench.items import Corpus, Item

log = logging.getLogger(__name__)

#: Bump when the same settings would render different images.
FORMAT_VERSION = 1
FONT_ROOT = Path("/usr/share/fonts")
MAX_WORKERS = 8
CHUNK = 64  # images per worker task

_LGC_TRAIN = (
    "NotoSans-Regular",
    "NotoSans-Bold",
    "NotoSans-Italic",
    "NotoSerif-Regular",
    "NotoSerif-Bold",
    "NotoSerif-Italic",
    "NotoSansDisplay-Regular",
    "NotoSansDisplay-Bold",
)
_LGC_TEST = ("NotoSerifDisplay-Regular", "NotoSerifDisplay-Italic", "NotoSans-BoldItalic", "NotoSerif-BoldItalic")
#: script -> fonts (file stems under /usr/share/fonts) of training images. Noto Sans/Serif cover
#: Latin, Cyrillic and Greek; the other scripts have their own families.
TRAIN_FONTS: dict[str, tuple[str, ...]] = {
    "Latin": _LGC_TRAIN,
    "Cyrillic": _LGC_TRAIN,
    "Greek": _LGC_TRAIN,
    "Devanagari": ("NotoSansDevanagari-Regular", "NotoSansDevanagari-Bold", "NotoSerifDevanagari-Regular"),
    "Georgian": ("NotoSansGeorgian-Regular", "NotoSansGeorgian-Bold", "NotoSerifGeorgian-Regular"),
    "Thai": ("NotoSansThai-Regular", "NotoSansThai-Bold", "NotoSerifThai-Regular", "NotoSerifThai-Bold"),
}
#: script -> fonts of dev/test/test_unseen images, disjoint from the training ones.
TEST_FONTS: dict[str, tuple[str, ...]] = {
    "Latin": _LGC_TEST,
    "Cyrillic": _LGC_TEST,
    "Greek": _LGC_TEST,
    "Devanagari": ("NotoSerifDevanagari-Bold",),
    "Georgian": ("NotoSerifGeorgian-Bold",),
    # Looped Thai is a different writing style from the loopless Sans/Serif of training.
    "Thai": ("NotoLoopedThai-Regular", "NotoLoopedThai-Bold"),
}


@dataclass(frozen=True)
class RenderSettings:
    """How texts become images; with the text settings, it names the build folder.

    Attributes:
        width, height: image size in pixels.
        font_size: range of the font size in pixels (shrunk when the text would not fit).
        max_rotation: degrees; the text block is rotated by a uniform draw in +-this.
        noise: range of the pixel noise's standard deviation (0-255 scale).
        blur: range of the Gaussian blur radius in pixels.
        jpeg_quality: of the written JPEG (its artefacts are part of the noise).
    """

    width: int = 384
    height: int = 192
    font_size: tuple[int, int] = (18, 30)
    max_rotation: float = 4.0
    noise: tuple[float, float] = (2.0, 12.0)
    blur: tuple[float, float] = (0.0, 0.8)
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for name in ("font_size", "noise", "blur"):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            if len(value) != 2 or value[0] > value[1] or value[0] < 0:
                raise ConfigError(f"render settings: {name} {value} must be a (low, high) range of non-negatives")
        if self.width < 64 or self.height < 32:
            raise ConfigError(f"render settings: {self.width}x{self.height} is too small (at least 64x32)")


@cache
def font_path(stem: str) -> Path:
    """The .ttf/.otf file of a font stem under /usr/share/fonts, or a ConfigError naming the package."""
    for suffix in (".ttf", ".otf"):
        found = sorted(FONT_ROOT.rglob(stem + suffix))
        if found:
            return found[0]
    raise ConfigError(f"font '{stem}' not found under {FONT_ROOT}: install fonts-noto-core (scripts/setup.sh)")


@cache
def font_charset(stem: str) -> frozenset[int]:
    """The code points the font has a glyph for (its cmap)."""
    from fontTools.ttLib import TTFont

    with TTFont(font_path(stem), lazy=True) as font:
        return frozenset(font.getBestCmap())


#: faces whose scripts need shaping (conjuncts, stacked marks); the rest lay out faster without raqm.
_SHAPED = ("Devanagari", "Georgian", "Thai")


@cache
def _font(stem: str, size: int):
    from PIL import ImageFont

    engine = ImageFont.Layout.RAQM if any(s in stem for s in _SHAPED) else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(font_path(stem)), size, layout_engine=engine)


def fonts_for(language: str, split: str) -> tuple[str, ...]:
    """The fonts an item of ``language`` in ``split`` may be drawn in."""
    table = TRAIN_FONTS if split == "train" else TEST_FONTS
    return table[language_spec(language).script]


def fallback_font(stem: str) -> str:
    """The Noto Sans/Serif face that draws what ``stem`` lacks (the comma, in the Georgian and Thai faces)."""
    family = "NotoSerif" if "Serif" in stem else "NotoSans"
    return f"{family}-{'Bold' if 'Bold' in stem else 'Regular'}"


def covered(stem: str, ch: str) -> bool:
    return ch.isspace() or ord(ch) in font_charset(stem)


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


def runs(text: str, stem: str) -> list[tuple[str, str]]:
    """``text`` cut into ``(font stem, substring)`` runs: the font's own glyphs, else its fallback's."""
    out: list[tuple[str, str]] = []
    for ch in text:
        face = stem if covered(stem, ch) else fallback_font(stem)
        if out and out[-1][0] == face:
            out[-1] = (face, out[-1][1] + ch)
        else:
            out.append((face, ch))
    return out


@cache
def line_length(line: str, stem: str, size: int) -> float:
    return sum(_font(face, size).getlength(part) for face, part in runs(line, stem))


def wrap(text: str, stem: str, size: int, max_width: int) -> list[str]:
    """Greedy line breaks after the commas between named items, so no name is split."""
    parts = [p + "," for p in text.split(", ")]
    parts[-1] = parts[-1][:-1]
    lines = [parts[0]]
    for part in parts[1:]:
        candidate = f"{lines[-1]} {part}"
        if line_length(candidate, stem, size) <= max_width:
            lines[-1] = candidate
        else:
            lines.append(part)
    return lines


def _layout(text: str, stem: str, size: int, settings: RenderSettings, angle: float):
    """The largest size <= ``size`` whose rotated text block fits the image: (size, lines, widths, line height)."""
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    while True:
        lines = wrap(text, stem, size, int(settings.width * 0.9))
        widths = [line_length(line, stem, size) for line in lines]
        ascent, descent = _font(stem, size).getmetrics()  # tall stacks (Thai, Devanagari) fit the face's metrics
        step = ascent + descent + size // 6
        w, h = max(widths), step * len(lines)
        fit = min(settings.width * 0.96 / (w * cos + h * sin), settings.height * 0.96 / (w * sin + h * cos))
        if fit >= 1 or size <= 8:
            return size, lines, widths, step
        # jump to the scaled size (re-wrapping may change the block, so check again)
        size = max(8, min(size - 1, int(size * fit)))


def _draw_block(text: str, stem: str, size: int, settings: RenderSettings, angle: float, align: int):
    """The text as an 8-bit coverage mask, rotated by ``angle`` degrees."""
    from PIL import Image, ImageDraw

    size, lines, widths, step = _layout(text, stem, size, settings, angle)
    ascent = _font(stem, size).getmetrics()[0]
    pad = 4
    mask = Image.new("L", (int(max(widths)) + 2 * pad, step * len(lines) + 2 * pad), 0)
    draw = ImageDraw.Draw(mask)
    for index, (line, width) in enumerate(zip(lines, widths, strict=True)):
        x = pad + (max(widths) - width) * align / 2  # align: 0 left, 1 centre, 2 right
        for face, part in runs(line, stem):
            draw.text((x, pad + index * step + ascent), part, fill=255, font=_font(face, size), anchor="ls")
            x += _font(face, size).getlength(part)
    return mask.rotate(angle, resample=Image.BICUBIC, expand=True)


def _background(rng: np.random.Generator, settings: RenderSettings) -> np.ndarray:
    """A paper-like RGB background: a tint, low-frequency blotches and grain, float32 (H, W, 3)."""
    from PIL import Image

    h, w = settings.height, settings.width
    tint = (rng.uniform(200, 250) + rng.uniform(-15, 15, size=3)).astype(np.float32)
    coarse = rng.normal(0, rng.uniform(4, 18), size=(rng.integers(2, 7), rng.integers(3, 12))).astype(np.float32)
    blotches = np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC))
    streaks = rng.normal(0, rng.uniform(0, 5), size=(h, 1)).astype(np.float32)  # horizontal grain
    return tint[None, None, :] + (blotches + streaks)[..., None]


def render(text: str, stem: str, settings: RenderSettings, draw_seed: int) -> bytes:
    """JPEG bytes of ``text`` in font ``stem``, with every variation drawn from ``draw_seed``."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(draw_seed)
    angle = float(rng.uniform(-settings.max_rotation, settings.max_rotation))
    size = int(rng.integers(settings.font_size[0], settings.font_size[1] + 1))
    mask = _draw_block(text, stem, size, settings, angle, int(rng.integers(3)))
    x = int(rng.integers(0, max(0, settings.width - mask.width) + 1))
    y = int(rng.integers(0, max(0, settings.height - mask.height) + 1))
    canvas = Image.new("L", (settings.width, settings.height), 0)
    canvas.paste(mask.crop((0, 0, settings.width - x, settings.height - y)), (x, y))
    # Blurring the coverage mask blurs the ink edges; the background is smooth already.
    canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(*settings.blur))))
    alpha = np.asarray(canvas, dtype=np.float32)[..., None] * np.float32(1 / 255)
    ink = np.clip(rng.uniform(0, 90) + rng.uniform(-20, 20, size=3), 0, 255).astype(np.float32)
    pixels = _background(rng, settings) * (1 - alpha) + ink[None, None, :] * alpha
    noise = rng.standard_normal(size=pixels.shape, dtype=np.float32) * np.float32(rng.uniform(*settings.noise))
    buffer = io.BytesIO()
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), mode="RGB")
    image.save(buffer, format="JPEG", quality=settings.jpeg_quality)
    return buffer.getvalue()


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
    from workbench.data.embedded import _build_lock, is_built

    folder = build_dir(text, render_settings, root)
    if is_built(folder):
        return folder
    with _build_lock(folder):
        if not is_built(folder):
            _build(text, render_settings, folder, workers or max(1, min(MAX_WORKERS, os.cpu_count() or 1)))
    return folder


def _build(text: EmbeddedSettings, render_settings: RenderSettings, folder: Path, workers: int) -> None:
    from workbench.data.embedded import _remove_partial_files
    from workbench.romanize import default_romanizer

    started = time.perf_counter()
    _remove_partial_files(folder)
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


class EmbeddedTextImages(Embedded):
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
