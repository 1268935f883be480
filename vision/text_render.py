"""Drawing text as a noisy photo-like image: the fonts, the layout and the render of the text-image set.

Everything an image depends on is an argument (text, font, :class:`RenderSettings`, a draw seed),
so :mod:`vision.text_images` can render in worker processes and get the same bytes anywhere.
Georgian and Thai Noto faces have no comma; such characters are drawn with the matching Noto
Sans/Serif face (:func:`fallback_font`), run by run, so no glyph is ever a tofu box.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from workbench.errors import ConfigError

FONT_ROOT = Path("/usr/share/fonts")

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
def font(stem: str, size: int):
    from PIL import ImageFont

    engine = ImageFont.Layout.RAQM if any(s in stem for s in _SHAPED) else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(font_path(stem)), size, layout_engine=engine)


def fallback_font(stem: str) -> str:
    """The Noto Sans/Serif face that draws what ``stem`` lacks (the comma, in the Georgian and Thai faces)."""
    family = "NotoSerif" if "Serif" in stem else "NotoSans"
    return f"{family}-{'Bold' if 'Bold' in stem else 'Regular'}"


def covered(stem: str, ch: str) -> bool:
    return ch.isspace() or ord(ch) in font_charset(stem)


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
    return sum(font(face, size).getlength(part) for face, part in runs(line, stem))


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
    """A size <= ``size`` (scaled down as needed) whose rotated text block fits: (size, lines, widths, line step)."""
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    while True:
        lines = wrap(text, stem, size, int(settings.width * 0.9))
        widths = [line_length(line, stem, size) for line in lines]
        ascent, descent = font(stem, size).getmetrics()  # tall stacks (Thai, Devanagari) fit the face's metrics
        step = ascent + descent + size // 6
        w, h = max(widths), step * len(lines)
        fit = min(settings.width * 0.96 / (w * cos + h * sin), settings.height * 0.96 / (w * sin + h * cos))
        if fit >= 1 or size <= 8:
            return size, lines, widths, step
        # jump to the scaled size (re-wrapping may change the block, so check again)
        size = max(8, min(size - 1, int(size * fit)))


def draw_block(text: str, stem: str, size: int, settings: RenderSettings, angle: float, align: int):
    """The text as an 8-bit coverage mask, rotated by ``angle`` degrees."""
    from PIL import Image, ImageDraw

    size, lines, widths, step = _layout(text, stem, size, settings, angle)
    ascent = font(stem, size).getmetrics()[0]
    pad = 4
    mask = Image.new("L", (int(max(widths)) + 2 * pad, step * len(lines) + 2 * pad), 0)
    draw = ImageDraw.Draw(mask)
    for index, (line, width) in enumerate(zip(lines, widths, strict=True)):
        x = pad + (max(widths) - width) * align / 2  # align: 0 left, 1 centre, 2 right
        for face, part in runs(line, stem):
            draw.text((x, pad + index * step + ascent), part, fill=255, font=font(face, size), anchor="ls")
            x += font(face, size).getlength(part)
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
    mask = draw_block(text, stem, size, settings, angle, int(rng.integers(3)))
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
