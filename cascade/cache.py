"""On-disk caches for the cascade's stages: content-addressed, atomic, self-checking.

A cache is a folder of *shards*. Each shard is one JSON file written atomically (via
:func:`workbench.io.atomic_write_bytes`) holding many entries plus a checksum of its own
payload, so one write per batch (not one per clip: a fsync costs milliseconds) and a
crash can only lose the batch being written. A shard whose JSON does not parse or whose
checksum does not match (truncated, edited, half-copied) is ignored and reported, never
read back as valid.

Keys are built by the stages: the transcript cache keys an entry by the hash of the audio
file's bytes (plus the item's language when the recognizer is told it), inside a folder
named by the recognizer's config (plus its checkpoint's hash). A changed model or option
is a different folder; a changed audio file is a different key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

from workbench.io import atomic_write_bytes

log = logging.getLogger(__name__)

SHARD_SUFFIX = ".shard.json"
_CHUNK = 1 << 20  # bytes read at a time while hashing files


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (the identity of an audio file or a checkpoint)."""
    h = hashlib.new(algorithm)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def config_digest(config: dict) -> str:
    """A short stable hash of a JSON-able config (sorted keys): names a cache folder."""
    payload = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _checksum(entries: dict[str, str]) -> str:
    payload = json.dumps(entries, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ShardedCache:
    """A string -> string store in ``folder``, loaded whole on first use.

    Args:
        folder: the cache's folder (created on the first write).
        meta: what the entries depend on (recognizer config, uroman version...), written
            to ``meta.json`` once so that a human can tell folders apart.

    Thread-safe. ``hits``/``misses`` count lookups, for logs and tests.
    """

    def __init__(self, folder: str | Path, meta: dict | None = None):
        self.folder = Path(folder)
        self.meta = meta or {}
        self._entries: dict[str, str] | None = None
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0
        self.corrupt_shards: list[Path] = []

    def _load(self) -> dict[str, str]:
        with self._lock:
            if self._entries is None:
                self._entries = {}
                for path in sorted(self.folder.glob(f"*{SHARD_SUFFIX}")):
                    entries = read_shard(path)
                    if entries is None:
                        self.corrupt_shards.append(path)
                        log.warning("cache %s: ignoring corrupt shard %s", self.folder, path.name)
                        continue
                    self._entries.update(entries)
            return self._entries

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._load().get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def __contains__(self, key: str) -> bool:
        return key in self._load()

    def __len__(self) -> int:
        return len(self._load())

    def put_many(self, entries: dict[str, str]) -> None:
        """Store entries as one new shard (one atomic write); no-op when empty."""
        if not entries:
            return
        entries = {str(k): str(v) for k, v in entries.items()}
        with self._lock:
            self._load()
            if self.meta and not (self.folder / "meta.json").is_file():
                atomic_write_bytes(self.folder / "meta.json", json.dumps(self.meta, indent=2, default=str).encode())
            checksum = _checksum(entries)
            body = {"checksum": checksum, "entries": entries}
            data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
            atomic_write_bytes(self.folder / f"{checksum[:20]}{SHARD_SUFFIX}", data)
            self._entries.update(entries)


def read_shard(path: Path) -> dict[str, str] | None:
    """A shard's entries, or None when it is unreadable, truncated or fails its checksum."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        entries = body["entries"]
        if not isinstance(entries, dict) or body["checksum"] != _checksum(entries):
            return None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in entries.items()):
            return None
        return entries
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
