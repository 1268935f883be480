"""PIXEL-M4's rendering of a text, drawn with PIL: one line of square patches, two characters to a patch.

The rules of the authors' bigram renderer (``PangoCairoTextRenderer`` in github.com/ilkerkesen/pixel-m4,
``src/pixel/data/rendering/pangocairo_renderer_bigrams_iso_char.py``) with the hub's
``text_renderer_config.json`` values (16-pixel patches, 529 of them, font size 8 at 120 dpi = 13 px):

- words are cut at whitespace; each word into pairs of characters ("bigrams"), and each pair starts
  at the next patch boundary, so a patch never holds parts of two pairs or two words;
- each character is drawn on its own (no shaping across characters: "iso char");
- black text on white, vertically centred; one black patch ends the text, blank white patches follow;
- a text too long for the line is cut after the last pair that leaves room for the black patch.

That renderer is not on PyPI (it lives in the research repository, with Pango/Cairo through PyGObject),
so these rules are drawn here with the Noto faces installed (``fonts-noto-core``) in place of
GoNotoCurrent.ttf, which merges the same Noto faces. The glyphs are not pixel-identical to Pango's
(FreeType hinting differs); the layout is the renderer's. Right-to-left scripts are not handled.
``pixel-renderer`` on PyPI is another renderer (sign/pixel-renderer: a whole text in the system's
"sans" on one line), not the one PIXEL-M4 or MPIXEL was pretrained with.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from vision.text_render import covered, font

#: faces tried in order for each character (the first with a glyph draws it): GoNotoCurrent's Noto parts
#: for the scripts of the embedded data.
FACES = ("NotoSans-Regular", "NotoSansDevanagari-Regular", "NotoSansGeorgian-Regular", "NotoSansThai-Regular")
END_PAD = 2  # pixels kept between the last character and the black end patch (the authors' renderer)


@dataclass(frozen=True)
class LineSettings:
    """One rendered line: ``patches`` squares of ``patch`` pixels; characters ``font_px`` pixels high."""

    patch: int = 16
    patches: int = 529
    font_px: int = 13
    faces: tuple[str, ...] = FACES


def face_for(ch: str, faces: tuple[str, ...]) -> str:
    return next((face for face in faces if covered(face, ch)), faces[0])


def bigrams(word: str) -> list[str]:
    """
    Example:
        >>> bigrams("monday")
        ['mo', 'nd', 'ay']
        >>> bigrams("may")
        ['ma', 'y']
    """
    return [word[i : i + 2] for i in range(0, len(word), 2)]


@functools.lru_cache(maxsize=1 << 14)
def render_line(text: str, settings: LineSettings = LineSettings()) -> tuple[np.ndarray, int]:
    """``text`` as a uint8 grey image ``[patch, patch * patches]`` (255 = white) and the number of patches
    up to and including the black end patch (the rest are blank). Cached: read-only, a training run
    renders the same texts every epoch."""
    from PIL import Image, ImageDraw

    size, width = settings.patch, settings.patch * settings.patches
    image = Image.new("L", (width, size), 255)
    draw = ImageDraw.Draw(image)
    offset, end = 0, 0  # the next pair's start (a patch boundary), the last drawn character's right edge
    for pair in (pair for word in text.split() for pair in bigrams(word)):
        faces = [font(face_for(ch, settings.faces), settings.font_px) for ch in pair]
        right = offset + sum(face.getlength(ch) for face, ch in zip(faces, pair, strict=True))
        if math.ceil((right + END_PAD) / size) * size > width - size:  # no room left for the end patch
            break
        x = offset
        for face, ch in zip(faces, pair, strict=True):
            draw.text((x, size / 2), ch, fill=0, font=face, anchor="lm")
            x += face.getlength(ch)
        offset, end = math.ceil(right / size) * size, right
    black = math.ceil((end + END_PAD) / size) * size if end else 0
    draw.rectangle((black, 0, black + size - 1, size - 1), fill=0)
    pixels = np.asarray(image)
    pixels.flags.writeable = False
    return pixels, black // size + 1
