"""Romanization derived, never required: items with native ``text`` and no ``romanized`` get uroman's.

Done once where a corpus is loaded (:meth:`workbench.data.sources.CorpusSource.load`), so the
romanizing recognizer's targets, the cascade classifier's gold text and the report's gold bound
all read the same strings. Results are kept on disk by ``(uroman version, language code, text)``,
so a rerun does not even load uroman when every string is known.

Each item's language goes through :meth:`workbench.romanize.Romanizer.language_code` (the one
place that maps corpus codes to uroman's). An unknown language is a :class:`ConfigError`
unless ``unknown_language="language_independent"``: uroman's rules without a language code,
counted in ``corpus.meta["romanized"]``.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

from workbench.errors import ConfigError
from workbench.io import atomic_write_json
from workbench.items import Corpus
from workbench.romanize import default_romanizer

UnknownLanguage = Literal["error", "language_independent"]


def _uroman_version() -> str:
    try:
        return version("uroman")
    except PackageNotFoundError:  # pragma: no cover - uroman is a dependency
        return "unknown"


def _key(code: str | None, text: str) -> str:
    return hashlib.sha256(f"{code or ''}\x00{text}".encode()).hexdigest()


class RomanizedCache:
    """``sha256(code, text) -> romanization`` in one JSON file per uroman version, written atomically."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / f"romanized-uroman-{_uroman_version()}.json"
        try:
            self.entries: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}  # none yet, or damaged: recompute rather than trust it
        self.added = 0

    def save(self) -> None:
        if self.added:
            atomic_write_json(self.path, self.entries)
            self.added = 0


def derive_romanized(corpus: Corpus, cache_dir: str | Path, unknown_language: UnknownLanguage = "error") -> Corpus:
    """Fill ``romanized`` from ``text`` where it is missing; counts go to ``corpus.meta["romanized"]``.

    Raises:
        ConfigError: an item's language has no uroman code and ``unknown_language`` is ``error``.
    """
    todo = [i for i, item in enumerate(corpus.items) if item.text and not item.romanized]
    stats = {"derived": 0, "language_independent": 0, "languages_without_code": []}
    if not todo:
        corpus.meta["romanized"] = stats
        return corpus
    romanizer = default_romanizer()
    codes: dict[str, str | None] = {}
    for language in sorted({corpus.items[i].language for i in todo}):
        try:
            codes[language] = romanizer.language_code(language)
        except ConfigError:
            if unknown_language != "language_independent":
                raise ConfigError(
                    f"corpus '{corpus.name}': language '{language}' has no uroman code, so its transcripts "
                    "cannot be romanized; use an ISO 639-3 code, give a romanized column, or set "
                    "unknown_language: language_independent on the data source"
                ) from None
            codes[language] = None
            stats["languages_without_code"].append(language)
    cache = RomanizedCache(cache_dir)
    items = list(corpus.items)
    for i in todo:
        item = items[i]
        code = codes[item.language]
        key = _key(code, item.text)
        if key not in cache.entries:
            cache.entries[key] = romanizer.romanize(item.text, code, allow_unknown_language=True)
            cache.added += 1
        items[i] = item.with_(romanized=cache.entries[key])
        stats["derived"] += 1
        stats["language_independent"] += code is None
    cache.save()
    corpus.items = items
    corpus.meta["romanized"] = stats
    return corpus
