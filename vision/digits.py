"""The embedded vision default: scikit-learn's bundled handwritten digits, named in 8 languages.

``sklearn.datasets.load_digits`` ships 1,797 real 8x8 grey images of the digits 0-9 inside
the package, so the corpus builds offline and deterministically. Each image is one content
(``content_id = digit-<index>``) and appears once per language, under the digit's name in that
language (``text``) and its uroman romanization (``romanized``). The image never depends on the
language: only the text side does, so cross-lingual transfer here is the text tower's job
(class prompts in the target language), which is exactly what zero-shot transfer measures.

The digit words are a small checked table (:data:`DIGIT_WORDS`): num2words agrees for eng,
deu, spa, rus and tha (tested); it has no ell, hin or kat, which were written by hand
(standard forms: Greek ``επτά/οκτώ/εννέα``, Hindi ``पाँच/छह``).
Number words of eng/deu/spa/rus/ell/hin are Indo-European cognates (two/zwei/dos/dva/duo/do),
kat and tha are not: once romanized, the former share letters and the latter are controls.
"""

from __future__ import annotations

import hashlib
import logging
import random
from pathlib import Path

from workbench.data.sources import CorpusSource
from workbench.errors import ConfigError
from workbench.io import atomic_write_bytes, atomic_write_json, read_json
from workbench.items import Corpus, Item
from workbench.romanize import romanize

log = logging.getLogger(__name__)

LANGUAGES = ("eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha")
LABEL_NAMES = [str(d) for d in range(10)]

#: language -> the names of the digits 0..9, in native script.
DIGIT_WORDS: dict[str, tuple[str, ...]] = {
    "eng": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "deu": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "spa": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "rus": ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"),
    "ell": ("μηδέν", "ένα", "δύο", "τρία", "τέσσερα", "πέντε", "έξι", "επτά", "οκτώ", "εννέα"),
    "hin": ("शून्य", "एक", "दो", "तीन", "चार", "पाँच", "छह", "सात", "आठ", "नौ"),
    "kat": ("ნული", "ერთი", "ორი", "სამი", "ოთხი", "ხუთი", "ექვსი", "შვიდი", "რვა", "ცხრა"),
    "tha": ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า"),
}

_FORMAT = 1  # bump when the on-disk layout changes


def _digits():
    """``(images uint8 [n, 8, 8] in 0..255, targets [n])`` from the copy bundled with scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # named, so the fix is obvious
        raise ConfigError("the embedded vision corpus needs scikit-learn: pip install scikit-learn") from err
    bunch = load_digits()
    images = (bunch.images * (255.0 / 16.0)).round().clip(0, 255).astype("uint8")
    return images, bunch.target.astype(int)


def split_contents(n: int, seed: int, dev: float, test: float) -> list[str]:
    """A split name per content index, by a seeded shuffle: the same for every language."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_test, n_dev = round(n * test), round(n * dev)
    splits = [""] * n
    for rank, index in enumerate(order):
        splits[index] = "test" if rank < n_test else "dev" if rank < n_test + n_dev else "train"
    return splits


def _png(image) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


class Digits(CorpusSource):
    """Handwritten digits x digit names in many languages (offline, deterministic).

    Args:
        root: folder for the generated images (``<root>/vision_digits/<key>/``).
        languages: ISO 639-3 codes among :data:`LANGUAGES`; all when None.
        per_language: number of images (contents) used, each shown in every language;
            all 1,797 when None.
        seed: seeds the choice of images and the split.
        dev: fraction of contents for the dev split.
        test: fraction of contents for the test split.
        tiny: a small set for tests (120 images, 3 languages of 3 scripts).
    """

    def __init__(
        self,
        root: str | Path = "data",
        languages: list[str] | None = None,
        per_language: int | None = None,
        seed: int = 0,
        dev: float = 0.1,
        test: float = 0.3,
        tiny: bool = False,
    ):
        if tiny:
            languages = languages or ["eng", "rus", "tha"]
            per_language = per_language or 120
        self.languages = list(languages or LANGUAGES)
        unknown = sorted(set(self.languages) - set(DIGIT_WORDS))
        if unknown:
            raise ConfigError(f"source.languages: no digit words for {unknown}; known: {list(DIGIT_WORDS)}")
        if not 0 <= dev < 1 or not 0 < test < 1 or dev + test >= 1:
            raise ConfigError(f"source: dev={dev}, test={test} must be fractions leaving some training data")
        self.root, self.per_language, self.seed = Path(root), per_language, seed
        self.dev, self.test = dev, test

    def folder(self) -> Path:
        key = repr((_FORMAT, self.per_language, self.seed))
        return self.root / "vision_digits" / hashlib.sha1(key.encode()).hexdigest()[:10]

    def _images(self) -> list[dict]:
        """Write the chosen images once; returns ``[{index, label, path}]`` (the build manifest)."""
        folder = self.folder()
        manifest = folder / "images.json"
        if manifest.is_file():
            return read_json(manifest)
        images, targets = _digits()
        chosen = list(range(len(images)))
        if self.per_language is not None and self.per_language < len(chosen):
            chosen = sorted(random.Random(self.seed).sample(chosen, self.per_language))
        rows = []
        for index in chosen:
            path = folder / "images" / f"{index:04d}.png"
            atomic_write_bytes(path, _png(images[index]))
            rows.append({"index": index, "label": int(targets[index]), "path": str(path)})
        atomic_write_json(manifest, rows)  # last: its presence marks a complete build
        log.info("built %d digit images under %s", len(rows), folder)
        return rows

    def load(self) -> Corpus:
        rows = self._images()
        splits = split_contents(len(rows), self.seed, self.dev, self.test)
        items = []
        for language in self.languages:
            words = DIGIT_WORDS[language]
            for row, split in zip(rows, splits, strict=True):
                word = words[row["label"]]
                items.append(
                    Item(
                        id=f"{language}-{row['index']:04d}",
                        content_id=f"digit-{row['index']:04d}",
                        language=language,
                        label=row["label"],
                        split=split,
                        image=row["path"],
                        text=word,
                        romanized=romanize(word, language),
                    )
                )
        class_names = {lang: list(DIGIT_WORDS[lang]) for lang in self.languages}
        return Corpus(items, list(LABEL_NAMES), name="digits", meta={"class_names": class_names})
