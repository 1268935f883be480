"""Audio checked before training: every file decoded once, its verdict cached by file digest.

A bad file raises a :class:`~workbench.errors.DataError` naming the item, or with
``on_bad_item="skip"`` is dropped and counted in the :class:`~workbench.data.validate.SkipReport`.
:meth:`workbench.data.sources.CorpusSource.load` runs :func:`validate_audio` on every corpus whose
items have audio (its ``SIGNAL_CHECKS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from speech.audio import SILENCE_PEAK, load_audio, wav_is_truncated
from workbench.data.validate import OnBadItem, SkipReport, keep_good
from workbench.errors import DataError
from workbench.io import atomic_write_json
from workbench.items import Item


def check_audio_item(item: Item, max_seconds: float | None = None) -> None:
    """Raise a DataError naming the item if its audio cannot be used."""
    if not item.audio:
        raise DataError(f"item '{item.id}'", "audio", "no audio path")
    load_audio(item.audio, where=f"item '{item.id}'", max_seconds=max_seconds)


def check_audio_items(
    items: list[Item], on_bad_item: OnBadItem = "raise", report: SkipReport | None = None
) -> list[Item]:
    """Read every item's audio once; see the module doc for ``on_bad_item``."""
    report = report if report is not None else SkipReport()
    return keep_good(items, check_audio_item, on_bad_item, report)


# -- audio checked once, before any training -------------------------------------------------------------------
CHECK_VERSION = 1  # bump when what counts as a fault changes: older verdicts are then not trusted
_BLOCK = 1 << 18  # frames decoded at a time: the whole file is read, never held in memory at once


def audio_fault(path: str | Path) -> str | None:
    """What is wrong with an audio file, or None: header, decodable, non-empty, complete, finite, not silent.

    The whole file is decoded (not only the part a capped read would see), without resampling,
    so a NaN or a cut at minute 19 is found here and not hours into training.
    """
    path = Path(path)
    if not path.is_file():
        return "file not found"
    if path.stat().st_size == 0:
        return "empty file, 0 bytes"
    if wav_is_truncated(path):
        return "truncated audio file: the WAV header promises more data"
    try:
        with sf.SoundFile(str(path)) as handle:
            expected, read, peak = handle.frames, 0, 0.0
            for block in handle.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    return "audio has NaN or infinite samples"
                read += len(block)
                peak = max(peak, float(np.abs(block).max(initial=0.0)))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        return f"not decodable audio: {err}"
    if read == 0:
        return "audio is empty, 0 samples"
    if read < expected:
        return f"truncated audio file: header says {expected} frames, decoded {read}"
    if peak < SILENCE_PEAK:
        return "audio is silent, all samples ~0"
    return None


class AudioChecks:
    """Verdicts on audio files, kept on disk by file digest so that a rerun decodes nothing.

    ``<folder>/audio-checks-v<N>.json`` maps a file's sha256 to its fault ('' when good), and
    ``(path, size, mtime)`` to its digest, so an unchanged file is not even hashed again.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / f"audio-checks-v{CHECK_VERSION}.json"
        state = _read_state(self.path)
        self.verdicts: dict[str, str] = state.get("verdicts", {})
        self.digests: dict[str, str] = state.get("digests", {})
        self.decoded = 0  # files decoded by this instance (0 on a rerun: the test of the cache)
        self._dirty = False
        self._lock = threading.Lock()  # fault() runs in worker threads: hashing and decoding happen outside it

    def fault(self, path: str) -> str | None:
        """The file's fault (see :func:`audio_fault`), from the cache when its digest is known. Thread-safe."""
        digest = self._digest(path)
        if digest is None:
            return audio_fault(path)  # missing file: nothing to cache
        with self._lock:
            known = self.verdicts.get(digest)
        if known is None:
            known = audio_fault(path) or ""
            with self._lock:
                self.verdicts[digest] = known
                self.decoded += 1
                self._dirty = True
        return known or None

    def _digest(self, path: str) -> str | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
        with self._lock:
            digest = self.digests.get(key)
        if digest is None:
            digest = file_sha256(path)
            with self._lock:
                self.digests[key] = digest
                self._dirty = True
        return digest

    def save(self) -> None:
        if self._dirty:
            atomic_write_json(self.path, {"verdicts": self.verdicts, "digests": self.digests})
            self._dirty = False


def _read_state(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: start over rather than trust it
    return state if isinstance(state, dict) else {}


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def validate_audio(items: list[Item], cache_dir: str | Path, on_bad_item: OnBadItem, report: SkipReport) -> list[Item]:
    """Every item's audio checked once (see :class:`AudioChecks`); bad items raise or are counted in ``report``.

    Items without an audio path (text or image corpora) pass: their signal is checked elsewhere.
    """
    checks = AudioChecks(cache_dir)
    paths = sorted({item.audio for item in items if item.audio})
    # libsndfile decodes and hashlib hashes without the GIL: threads check files side by side
    try:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            found = pool.map(checks.fault, paths)
            progress = tqdm(found, total=len(paths), desc="checking audio", disable=len(paths) < 500)
            faults = dict(zip(paths, progress, strict=True))
    finally:
        checks.save()

    def check(item: Item) -> None:
        if item.audio and faults[item.audio]:
            raise DataError(f"item '{item.id}'", "audio", f"{faults[item.audio]} ({item.audio})")

    return keep_good(items, check, on_bad_item, report)
