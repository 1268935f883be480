"""Crossmodal-3600 (XM3600: 3600 images, captions in 36 languages) for :mod:`vision.retrieval`.

Read in the parquet form of ``floschne/xm3600`` (its card: one split per language, named by the
language's two- or three-letter code ``ar`` ... ``zh``, ``fil``, ``quz``; features ``image_id``
string, ``image_locale`` string, ``captions`` list of strings, ``captions_tokenized``,
``captions_tokenized_lowercase``, ``image`` struct of bytes and path). Where the split files lie in
the repository is not stated on the card: ``pattern`` (default ``data/{language}-*.parquet``, how
``push_to_hub`` names a split's shards) finds them, and a pattern matching nothing is a one-line error
naming it. Images are decoded once into PNG files under ``cache_dir`` (as every image source here).
"""

from __future__ import annotations

from pathlib import Path

from vision.retrieval import CaptionSet, CaptionSource
from vision.sources import cache_image
from workbench.data.hubfiles import repo_glob
from workbench.data.sources import DEFAULT_CACHE
from workbench.errors import ConfigError, DataError
from workbench.languages import hub_language

COLUMNS = ("image_id", "captions", "image")  # the features read; the others are not needed


class XM3600(CaptionSource):
    """XM3600's images and captions, per language.

    Args:
        path: hub id (``floschne/xm3600``) or a local copy of the repository.
        languages: the hub's language codes (``en``, ``de``, ``ru``, ``th``...), each a split.
        pattern: where one language's parquet files lie (``{language}`` replaced by the code).
        max_images: keep the first this many images per language (None: all 3600).
        cache_dir: where decoded images are written.
        token_env: environment variable with a hub token (None: huggingface_hub's login).
    """

    def __init__(
        self,
        languages: list[str],
        path: str = "floschne/xm3600",
        pattern: str = "data/{language}-*.parquet",
        max_images: int | None = None,
        cache_dir: str = str(DEFAULT_CACHE),
        token_env: str | None = "HF_TOKEN",
    ):
        if not languages:
            raise ConfigError("data.languages: name the XM3600 languages to evaluate (en, de, ru...)")
        if "{language}" not in pattern:
            raise ConfigError(f"data.pattern: '{pattern}' has no '{{language}}' to put the language code in")
        self.path, self.languages, self.pattern, self.max_images = path, list(languages), pattern, max_images
        self._cache_dir, self._token_env = cache_dir, token_env

    def load(self) -> list[CaptionSet]:
        return [self.load_language(language) for language in self.languages]

    def load_language(self, language: str) -> CaptionSet:
        import pyarrow.parquet as pq

        pattern = self.pattern.format(language=language)
        files = repo_glob(self.path, pattern, token_env=self._token_env)
        if not files:
            raise DataError(f"dataset '{self.path}'", pattern, f"no parquet files for language '{language}'")
        code, _ = hub_language(language)
        folder = Path(self._cache_dir) / "xm3600"  # an image is the same file in every language
        images, captions, image_of = [], [], []
        for file in files:
            columns = pq.read_schema(file).names
            missing = [c for c in COLUMNS if c not in columns]
            if missing:
                raise DataError(f"file '{file}'", missing[0], f"column missing (has {columns})")
            for row in pq.read_table(file, columns=list(COLUMNS)).to_pylist():
                if self.max_images and len(images) >= self.max_images:
                    break
                where = f"{file.name}: image '{row['image_id']}'"
                if not row["captions"]:
                    raise DataError(where, "captions", "no caption")
                images.append(cache_image(row["image"], where, folder, row["image_id"]))
                captions += row["captions"]
                image_of += [len(images) - 1] * len(row["captions"])
        return CaptionSet(code, images, captions, image_of)
