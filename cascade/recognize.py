"""The recognize stage: items -> transcripts, through an on-disk cache.

The cache folder is named by the hash of :meth:`Recognizer.describe` (model identity,
checkpoint hash, decoding options); an entry's key is the hash of the audio file's bytes,
plus the item's language when the recognizer is given it. So a rerun, another classifier
or another protocol over the same audio never re-transcribes, and changing any of those
re-transcribes exactly what changed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from cascade.cache import ShardedCache, config_digest, file_digest
from cascade.recognizers.base import Recognizer
from speech.audio import duration_seconds, load_audio
from workbench.distributed import compute_once
from workbench.errors import DataError
from workbench.items import Item
from workbench.rng import preserved_rng

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "data/cache/cascade"
CHUNK = 256  # clips transcribed (and written to the cache) at a time: a crash loses at most this many


def recognizer_cache(recognizer: Recognizer, cache_dir: str | Path) -> ShardedCache:
    """The transcript cache of one recognizer configuration."""
    described = recognizer.describe()
    return ShardedCache(Path(cache_dir) / "transcripts" / config_digest(described), meta=described)


def entry_key(audio_digest: str, language: str | None, recognizer: Recognizer) -> str:
    return f"{audio_digest}:{language or ''}" if recognizer.uses_language else audio_digest


def transcribe_items(
    recognizer: Recognizer, items: list[Item], cache_dir: str | Path = DEFAULT_CACHE_DIR, chunk: int = CHUNK
) -> dict[str, str]:
    """``{item.id: transcript}`` for ``items``, transcribing only what the cache lacks.

    Raises:
        DataError: an item has no audio, or its file is missing or unreadable.
    """
    cache = recognizer_cache(recognizer, cache_dir)
    field = getattr(recognizer, "signal", "audio")  # "image" for OCR recognizers, which read() their files
    digests: dict[str, str] = {}  # the same file can back several items
    keys = {}
    for item in items:
        path = getattr(item, field)
        if not path:
            raise DataError(f"item '{item.id}'", field, f"the cascade needs {field} to recognize")
        if path not in digests:
            if not Path(path).is_file():
                raise DataError(f"item '{item.id}'", field, f"file not found ({path})")
            digests[path] = file_digest(path)
        keys[item.id] = entry_key(digests[path], item.language, recognizer)
    todo: dict[str, Item] = {}
    for item in items:
        if cache.get(keys[item.id]) is None:
            todo.setdefault(keys[item.id], item)
    # under DDP each missing clip is transcribed by one rank only, and every rank gets its text
    with preserved_rng():  # a cold cache must not change what the seeded run does next
        fresh = compute_once(todo, lambda mine: _transcribe_missing(recognizer, mine, cache, field, chunk))
    return {item.id: fresh[key] if (key := keys[item.id]) in fresh else cache.get(key) for item in items}


def _transcribe_missing(
    recognizer: Recognizer, todo: dict[str, Item], cache: ShardedCache, field: str, chunk: int
) -> dict[str, str]:
    """Transcribe ``todo`` (cache key -> item), ``chunk`` at a time, into ``cache``; returns key -> text."""
    started = time.perf_counter()
    done: dict[str, str] = {}
    # language then length order across chunks, so batches inside a chunk are homogeneous
    size = duration_seconds if field == "audio" else lambda path: 0
    pending = sorted(todo.items(), key=lambda kv: (kv[1].language, size(getattr(kv[1], field))))
    load = load_audio if field == "audio" else recognizer.read
    for start in range(0, len(pending), chunk):
        part = pending[start : start + chunk]
        waves = [load(getattr(item, field), where=f"item '{item.id}'") for _, item in part]
        texts = recognizer.transcribe(waves, [item.language for _, item in part])
        fresh = {key: text for (key, _), text in zip(part, texts, strict=True)}
        cache.put_many(fresh)
        done.update(fresh)
    log.info("transcribed %d clips in %.1f s", len(todo), time.perf_counter() - started)
    return done
