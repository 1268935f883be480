"""The romanize stage: text -> uroman Latin, cached in memory and on disk.

:class:`workbench.romanize.Romanizer` holds uroman and an in-memory cache; this stage adds
a :class:`~cascade.cache.ShardedCache` keyed by ``(uroman version, language, text)`` so
that a new process does not pay uroman's load time (seconds) when every string is known.
uroman-fast's output on its verified languages is uroman's, so it shares uroman's cache;
romanizing every language with it (``fast_languages: all``) gets a cache of its own.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cascade.cache import ShardedCache
from workbench.distributed import compute_once
from workbench.romanize import Romanizer, default_romanizer


def uroman_version() -> str:
    try:
        return version("uroman")
    except PackageNotFoundError:  # pragma: no cover - uroman is a dependency
        return "unknown"


class RomanizeStage:
    """Romanize many ``(text, language)`` pairs, each distinct pair once, ever.

    Args:
        cache_dir: the cascade's cache root (romanizations go to ``<cache_dir>/romanized``).
        romanizer: defaults to the process-wide strict :class:`Romanizer`.
    """

    def __init__(self, cache_dir: str | Path, romanizer: Romanizer | None = None):
        self.romanizer = romanizer or default_romanizer()
        meta = {"stage": "uroman", "uroman": uroman_version()}
        folder = f"uroman-{meta['uroman']}"
        engine = getattr(self.romanizer, "identity", lambda: "uroman")()
        if engine != "uroman":  # uroman-fast on languages not checked against uroman: its own cache
            meta["engine"], folder = engine, f"{folder}-{engine}"
        self.cache = ShardedCache(Path(cache_dir) / "romanized" / folder, meta=meta)

    @staticmethod
    def key(text: str, language: str | None) -> str:
        return hashlib.sha256(f"{language or ''}\x00{text}".encode()).hexdigest()

    def __call__(self, texts: list[str], languages: list[str | None]) -> list[str]:
        """The romanizations of ``texts`` (one language code per text), in order."""
        keys = [self.key(t, lang) for t, lang in zip(texts, languages, strict=True)]
        known = {key: self.cache.get(key) for key in set(keys)}
        todo = {key: (text, lang) for key, text, lang in zip(keys, texts, languages, strict=True) if known[key] is None}
        # under DDP each missing string is romanized by one rank only, and every rank gets it
        known.update(compute_once(todo, self._romanize))
        return [known[key] for key in keys]

    def _romanize(self, todo: dict[str, tuple[str, str | None]]) -> dict[str, str]:
        new = {key: self.romanizer.romanize(text, lang) for key, (text, lang) in todo.items()}
        self.cache.put_many(new)
        return new
