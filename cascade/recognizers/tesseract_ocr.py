"""Tesseract OCR as the cascade's recognize stage for images (text in images -> native-script text).

The vision counterpart of an ASR recognizer: items carry an ``image`` instead of ``audio``
(``signal = "image"``), and each image is read in its item's language (Debian's
``tesseract-ocr-<code>`` language packs; ``scripts/setup.sh`` installs the embedded eight).
``pytesseract`` finds the binary, its version and language packs; images of one language are
read by one ``tesseract`` process from a list file, so the language model loads once per batch
rather than once per image.

Example (config)::

    recognizer:
      class_path: cascade.recognizers.tesseract_ocr.TesseractRecognizer
      init_args: {psm: 6}
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

from cascade.recognizers.base import Recognizer
from workbench.errors import ConfigError, DataError

#: ISO 639-3 / 639-1 code -> Tesseract language pack, for codes that are not already a pack's name.
TESSERACT_CODES = {
    "en": "eng",
    "de": "deu",
    "es": "spa",
    "ru": "rus",
    "el": "ell",
    "hi": "hin",
    "ka": "kat",
    "th": "tha",
}
PAGE_SEPARATOR = "\f"  # tesseract's default; never in recognized text
_SPACES = re.compile(r"\s+")


@cache
def _pytesseract():
    try:
        import pytesseract
    except ImportError as err:
        raise ConfigError("the Tesseract recognizer needs pytesseract: pip install pytesseract") from err
    try:
        pytesseract.get_tesseract_version()
    except pytesseract.TesseractNotFoundError:
        raise ConfigError("tesseract is not installed: apt-get install tesseract-ocr (scripts/setup.sh)") from None
    return pytesseract


def run_tesseract(target: str, code: str, config: str) -> str:
    """Text tesseract reads from ``target`` (an image, or a list file of images) in pack ``code``.

    One OpenMP thread per tesseract process (the recognizer runs several at once), set in the
    child's environment only: ``OMP_THREAD_LIMIT`` left in this process's ``os.environ`` would be
    inherited by every later child, and a torch training child whose thread count exceeds it hangs
    in its first convolution backward (pytorch/pytorch#91547; it hung the demo's training job).
    """
    command = [_pytesseract().pytesseract.tesseract_cmd, target, "stdout", "-l", code, *shlex.split(config)]
    done = subprocess.run(command, capture_output=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise DataError(target, "image", f"tesseract -l {code} failed (exit {done.returncode}): {why[0]}")
    return done.stdout.decode("utf-8", "replace")


@cache
def installed_languages() -> frozenset[str]:
    """The language packs tesseract can load."""
    return frozenset(_pytesseract().get_languages(config=""))


def tesseract_language(language: str | None) -> str:
    """The Tesseract pack for an ISO 639-3/639-1/BCP-47 code, or a ConfigError naming the apt package.

    ``eng+rus`` (Tesseract's own syntax) names several packs read with at once.
    """
    if not language:
        raise ConfigError("the Tesseract recognizer needs each item's language (got none)")
    if "+" in language:
        return "+".join(tesseract_language(part) for part in language.split("+"))
    base = language.strip().lower().replace("_", "-").split("-")[0]
    code = TESSERACT_CODES.get(base, base)
    if code not in installed_languages():
        raise ConfigError(
            f"no Tesseract language pack for '{language}': apt-get install tesseract-ocr-{code} (scripts/setup.sh)"
        )
    return code


def clean(text: str) -> str:
    """Tesseract's lines joined by single spaces (line breaks are layout, not content)."""
    return _SPACES.sub(" ", text).strip()


class TesseractRecognizer(Recognizer):
    """Images -> native-script text with Tesseract, language given per item.

    Args:
        psm: page segmentation mode (6: one uniform block of text, as the embedded images are).
        oem: OCR engine mode (1: the LSTM recognizer of the ``tesseract-ocr-<code>`` packs).
        workers: tesseract processes at once (default: CPU count, at most 4).
        batch_size: images per tesseract process (the language model loads once per batch).
    """

    script = "native"
    uses_language = True
    signal = "image"  # recognize.py reads item.image and calls read() instead of loading audio

    def __init__(self, psm: int = 6, oem: int = 1, workers: int | None = None, batch_size: int = 64):
        if not 0 <= psm <= 13:
            raise ConfigError(f"recognizer.psm: {psm} is not a Tesseract page segmentation mode (0-13)")
        if oem not in (0, 1, 2, 3):
            raise ConfigError(f"recognizer.oem: {oem} is not a Tesseract engine mode (0-3)")
        if batch_size < 1:
            raise ConfigError(f"recognizer.batch_size: {batch_size} must be at least 1")
        self.psm, self.oem, self.batch_size = psm, oem, batch_size
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))

    def describe(self) -> dict:
        """Tesseract's version, the language packs' sizes, and the options: the cache folder's key."""
        pytesseract = _pytesseract()
        packs = {}
        for code in sorted(installed_languages()):
            found = list(
                Path(os.environ.get("TESSDATA_PREFIX", "/usr/share/tesseract-ocr")).rglob(f"{code}.traineddata")
            )
            packs[code] = found[0].stat().st_size if found else None
        return {
            "recognizer": "tesseract",
            "version": str(pytesseract.get_tesseract_version()),
            "packs": packs,
            "psm": self.psm,
            "oem": self.oem,
        }

    def combined_language(self, languages: list[str]) -> str | None:
        """The language that reads with the packs of every one of ``languages`` installed, at once
        (``eng+rus``): what an image of unknown language can be read with first; None when none is."""
        packs = []
        for language in languages:
            try:
                packs.append(tesseract_language(language))
            except ConfigError:  # a language without a pack cannot be among the candidates
                continue
        return "+".join(dict.fromkeys(packs)) or None

    def read(self, path: str, where: str) -> str:
        """Check that ``path`` is a readable image; tesseract reads the file itself, so the path is the input."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, UnidentifiedImageError) as err:
            raise DataError(where, "image", f"unreadable image '{path}': {err}") from None
        return str(Path(path).resolve())

    def _read_batch(self, paths: list[str], code: str) -> list[str]:
        """One tesseract process over a list file; page separators split its output per image."""
        config = f"--psm {self.psm} --oem {self.oem}"
        with tempfile.TemporaryDirectory(prefix="ocr-") as folder:
            listing = Path(folder) / "images.txt"
            listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
            out = run_tesseract(str(listing), code, config)
        pages = out.split(PAGE_SEPARATOR)
        if len(pages) >= len(paths) and all(not p.strip() for p in pages[len(paths) :]):
            return [clean(p) for p in pages[: len(paths)]]
        # a page separator lost (an unreadable page): read one by one rather than misalign
        return [clean(run_tesseract(p, code, config)) for p in paths]

    def transcribe(self, waves: list[str], languages: list[str | None]) -> list[str]:
        """Text of each image (``waves`` are image paths from :meth:`read`), in input order."""
        codes = [tesseract_language(lang) for lang in languages]
        batches: list[tuple[str, list[int]]] = []
        for code in sorted(set(codes)):
            idx = [i for i, c in enumerate(codes) if c == code]
            batches += [(code, idx[s : s + self.batch_size]) for s in range(0, len(idx), self.batch_size)]
        out: list[str] = [""] * len(waves)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [(idx, pool.submit(self._read_batch, [waves[i] for i in idx], code)) for code, idx in batches]
            for idx, future in futures:
                for i, text in zip(idx, future.result(), strict=True):
                    out[i] = text
        return out
