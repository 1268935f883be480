"""Text-in-image -> one text line: the deterministic half of the CTC line recognizer's front end.

A CTC recognizer reads a sequence left to right, but an image may hold several lines of
slightly rotated text anywhere on a textured background. :func:`line_strip` turns it into
one strip of height ``height``: ink map (dark ink on a lighter background, the background
estimated and removed) -> deskew (the angle whose horizontal projection is sharpest) ->
lines (bands of the row profile) -> each line cropped to its ink, all scaled by one factor
and laid end to end, a gap between lines (where the transcript has a space). Pure numpy +
Pillow; the encoder (:class:`vision.line_encoder.LineEncoder`) owns the settings, so the
checkpoint, the cascade and the demo prepare images the same way.

Example:
    >>> grey = np.full((64, 200), 230, np.uint8); grey[20:40, 30:170] = 20   # one dark bar
    >>> strip = line_strip(grey, height=16)
    >>> strip.shape[0], strip.dtype.name, bool(0.9 < strip.max() <= 1)
    (16, 'float32', True)
"""

from __future__ import annotations

import numpy as np

from workbench.errors import DataError

MAX_SKEW = 6.0  # degrees searched either way (the embedded set rotates by up to 4)
SKEW_STEP = 0.5  # degrees between tried angles
BACKGROUND_WINDOW = 9  # pixels: wider than any stroke, so a max filter sees the paper around the ink
LINE_GAP = 0.5  # blank between lines in the strip, in line heights
MARGIN = 0.2  # added above and below each line, in line heights (ink of other lines is cut off)


def load_grey(path: str, where: str) -> np.ndarray:
    """The image at ``path`` as 8-bit grey ``(H, W)``, or a DataError naming ``where``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"))
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(where, "image", f"unreadable image '{path}': {err}") from None


def ink_map(grey: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 grey -> ink ``(H, W)`` float32 in [0, 1]: how much darker than the local paper.

    The paper is the local maximum (ink strokes are thinner than the window), smoothed; the
    contrast is scaled by the darkest ink so light and heavy ink look alike; pixel noise
    below a sixth of it is cut.
    """
    from scipy import ndimage

    image = ndimage.gaussian_filter(grey.astype(np.float32), 0.7)  # pixel noise, not strokes
    paper = ndimage.uniform_filter(ndimage.maximum_filter(image, BACKGROUND_WINDOW), 7)
    depth = paper - image
    top = float(np.percentile(depth, 99.7))
    if top < 16:  # no ink darker than the noise: a blank image
        return np.zeros(grey.shape, np.float32)
    return np.clip((depth - top / 6) / (0.6 * top), 0, 1).astype(np.float32)


def skew_angle(ink: np.ndarray) -> float:
    """The rotation (degrees, counter-clockwise) of the text: the shear whose row profile is sharpest."""
    ys, xs = np.nonzero(ink > 0.3)
    if len(ys) < 10:
        return 0.0
    weights = ink[ys, xs]
    xs = xs - ink.shape[1] / 2
    best, best_score = 0.0, -1.0
    for angle in np.arange(-MAX_SKEW, MAX_SKEW + 1e-6, SKEW_STEP):
        rows = np.round(ys + xs * np.tan(np.radians(angle))).astype(np.int64)
        profile = np.bincount(rows - rows.min(), weights=weights)
        score = float(np.dot(profile, profile))
        # ties (e.g. a single short word) keep the smaller angle
        if score > best_score * (1 + 1e-6) or (score >= best_score and abs(angle) < abs(best)):
            best, best_score = float(angle), score
    return best


def deskew(ink: np.ndarray, angle: float) -> np.ndarray:
    """``ink`` rotated back by ``angle`` degrees, the canvas grown so no ink is cut."""
    if angle == 0:
        return ink
    from PIL import Image

    rotated = Image.fromarray(ink, mode="F").rotate(-angle, resample=Image.BILINEAR, expand=True)
    return np.asarray(rotated, np.float32)


def line_bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """``[(top, bottom)]`` rows of each text line, top to bottom.

    Bands of the row profile above a tenth of its peak; a band much thinner than the tallest
    (dots, stacked marks, the tail of a descender) joins its nearest neighbour.
    """
    profile = np.convolve(ink.sum(1), np.ones(3) / 3, mode="same")
    if profile.max() <= 0:
        return []
    on = profile > 0.1 * profile.max()
    edges = np.flatnonzero(np.diff(np.r_[0, on.astype(np.int8), 0]))
    bands = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2], strict=True)]
    tallest = max(b - a for a, b in bands)
    merged = True
    while merged and len(bands) > 1:
        merged = False
        for k, (a, b) in enumerate(bands):
            if b - a < 0.4 * tallest:
                gaps = [(a - bands[k - 1][1], k - 1) if k > 0 else (np.inf, -1)]
                gaps.append((bands[k + 1][0] - b, k + 1) if k + 1 < len(bands) else (np.inf, -1))
                other = min(gaps)[1]
                lo, hi = sorted((k, other))
                bands[lo : hi + 1] = [[min(bands[lo][0], bands[hi][0]), max(bands[lo][1], bands[hi][1])]]
                merged = True
                break
    return [(a, b) for a, b in bands]


def _resize(block: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(block, mode="F").resize((width, height), Image.BILINEAR), np.float32)


def line_strip(grey: np.ndarray, height: int) -> np.ndarray:
    """``(H, W)`` uint8 grey image -> ``(height, W')`` float32 ink strip of its lines, read in order.

    Every line is scaled by the same factor (the tallest line fills ``height`` less the
    margins), so glyphs keep one size across the lines of an image. A blank image gives an
    empty ``(height, height)`` strip.
    """
    ink = ink_map(grey)
    ink = deskew(ink, skew_angle(ink))
    bands = line_bands(ink)
    if not bands:
        return np.zeros((height, height), np.float32)
    tall = max(b - a for a, b in bands)
    window = int(round(tall * (1 + 2 * MARGIN)))
    scale = height / window
    gap = np.zeros((height, max(1, int(round(LINE_GAP * height)))), np.float32)
    pieces = []
    for top, bottom in bands:
        start = max(0, (top + bottom) // 2 - window // 2)
        block = ink[start : start + window]
        cols = np.flatnonzero(block.max(0) > 0.3)
        if len(cols) == 0:
            continue
        block = block[:, max(0, cols[0] - 2) : cols[-1] + 3]
        if block.shape[0] < window:  # a line at the image's edge: pad to the common window
            block = np.pad(block, ((0, window - block.shape[0]), (0, 0)))
        pieces += [_resize(block, height, max(1, int(round(block.shape[1] * scale)))), gap]
    if not pieces:
        return np.zeros((height, height), np.float32)
    return np.clip(np.concatenate(pieces[:-1], axis=1), 0, 1)
