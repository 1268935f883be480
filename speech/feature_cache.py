"""Front-end features computed once: a content-addressed on-disk cache of log-mel frames per clip.

The from-scratch encoders (E2E ConvEncoder, the cascade's CTC recognizer) compute the same
log-mel of the same clips every epoch, in every run of a sweep and in the demo. The
spectrogram is most of the front end's cost (normalisation and SpecAugment are cheap and
must stay per step: SpecAugment draws new masks every time), so the cache stores the
**un-normalised** log-mel and :class:`~speech.features.LogMel` normalises and augments the
cached tensor.

Layout: ``<root>/<front-end digest>/<clip digest[:2]>/<clip digest>.f16``, one clip's
``(frames, n_mels)`` features as raw little-endian float16, read memory-mapped (the shape is
known from the clip's length and the front end, and checked against the file size; a
``.npy`` header would cost more to parse than the 20 kB it describes). ``format.json`` in
each front-end folder records the layout and the front end's settings.

- clip digest: XXH3-128 of the clip's valid float32 samples (hashing runs every step, and
  SHA-1 took a fifth of the time the spectrogram does), so a changed clip is a new entry;
- front-end digest: the front end's settings plus a fingerprint of its mel filterbank and
  window, so a changed front end never reads stale features.

Entries are written atomically (temporary file + rename): a concurrent reader sees no
entry or a whole one. An entry that cannot be read or has the wrong shape counts as a miss
and is computed and written again. Misses are rounded to float16 exactly like stored entries,
so a clip's features do not depend on whether they came from the disk.

The cache folder comes from the environment variable ``WORKBENCH_FEATURE_CACHE`` (default
``data/cache/features``, beside the built data); ``off`` turns the cache off.
:func:`set_writes` (False) makes it read-only in a process, as the demo does: an uploaded
clip is not part of any corpus, and a public demo must not grow the disk with each request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import xxhash

log = logging.getLogger(__name__)

ENV_VAR = "WORKBENCH_FEATURE_CACHE"
DEFAULT_ROOT = "data/cache/features"
OFF = ("", "0", "off", "none", "false", "no")
STORAGE_DTYPE = np.dtype("<f2")  # halves the disk; log-mel rounding error ~1e-3 of its spread
SUFFIX = ".f16"
#: Bump when the same settings would cache different values (front-end code changes).
FORMAT_VERSION = 1

_WRITES = True  # see set_writes

Compute = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def cache_root() -> Path | None:
    """The cache folder from ``WORKBENCH_FEATURE_CACHE`` (default ``data/cache/features``); None when off."""
    value = os.environ.get(ENV_VAR, DEFAULT_ROOT)
    return None if value.strip().lower() in OFF else Path(value)


def set_writes(enabled: bool) -> None:
    """Allow (default) or forbid writing new entries in this process; reading is unaffected."""
    global _WRITES
    _WRITES = bool(enabled)


def clip_digest(samples: torch.Tensor) -> str:
    """XXH3-128 of a clip's valid samples as float32 bytes (32 hex characters)."""
    array = samples.detach().to("cpu", torch.float32).contiguous().numpy()
    return xxhash.xxh3_128_hexdigest(array.data)


def front_end_digest(config: dict, tensors: dict[str, torch.Tensor]) -> str:
    """Digest of a front end: its JSON-able settings and the exact bytes of its fixed tensors."""
    digest = hashlib.sha1(json.dumps(_described(config), sort_keys=True, default=str).encode())
    for name, tensor in sorted(tensors.items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _described(config: dict) -> dict:
    return {**config, "format": FORMAT_VERSION, "storage": "raw <f2 (frames, bins)", "clip_digest": "xxh3_128"}


def _write_atomic(path: Path, data: bytes) -> None:
    # No fsync (unlike result files): a cache entry lost or torn by a power cut fails the
    # shape check on read and is recomputed, and thousands of fsyncs would cost seconds.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureCache:
    """Un-normalised front-end features by clip content.

    Args:
        root: the cache folder (entries go to ``<root>/<front-end digest>/``).
        digest: the front end's digest (:func:`front_end_digest`).
        bins: feature bins per frame (``n_mels``); an entry of another width is a miss.
    """

    def __init__(self, root: str | Path, digest: str, bins: int, config: dict | None = None):
        self.folder = Path(root) / digest
        self.bins = bins
        self.config = config or {}
        self.hits = 0  # clips read from disk
        self.misses = 0  # clips computed (and written)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{SUFFIX}"

    def read(self, key: str, frames: int) -> torch.Tensor | None:
        """The stored ``(frames, bins)`` features as float32, or None when missing or damaged."""
        path = self.path(key)
        try:
            with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                if len(mapped) != frames * self.bins * STORAGE_DTYPE.itemsize:
                    log.warning("feature cache: entry %s has %d bytes, expected %d frames", path, len(mapped), frames)
                    return None
                view = np.frombuffer(mapped, dtype=STORAGE_DTYPE).reshape(frames, self.bins)
                value = torch.from_numpy(view.astype(np.float32))
                del view  # release the buffer before the map closes
                return value
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:  # empty or unreadable: recompute
            log.warning("feature cache: unreadable entry %s (%s); recomputing", path, err)
            return None

    def write(self, key: str, value: np.ndarray) -> None:
        """Store one clip's ``(frames, bins)`` features atomically."""
        if not (self.folder / "format.json").is_file():
            described = json.dumps(_described(self.config), indent=2, sort_keys=True, default=str)
            _write_atomic(self.folder / "format.json", described.encode())
        _write_atomic(self.path(key), np.ascontiguousarray(value, dtype=STORAGE_DTYPE).tobytes())

    def features(
        self, waves: torch.Tensor, lengths: torch.Tensor, frames: torch.Tensor, compute: Compute
    ) -> torch.Tensor:
        """A batch's features from the cache, computing (and storing) only the misses.

        Args:
            waves: ``(B, T)`` float32 16 kHz, zero-padded.
            lengths: ``(B,)`` valid samples.
            frames: ``(B,)`` valid frames each clip must have.
            compute: the front end, ``(waves, lengths) -> ((b, F, bins), (b,) frames)``; an item's
                features must not depend on its batch mates (true of :class:`~speech.features.LogMel`).
        Returns:
            ``(B, max frames, bins)`` float32 (float16 values), zero beyond each clip's frames.
        """
        counts = [int(n) for n in frames]
        keys = [clip_digest(waves[i, : int(n)]) for i, n in enumerate(lengths)]
        found = [self.read(k, n) for k, n in zip(keys, counts, strict=True)]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            sub_lengths = lengths[missing]
            computed, computed_frames = compute(waves[missing][:, : int(sub_lengths.max())], sub_lengths)
            for row, i in enumerate(missing):
                if int(computed_frames[row]) != counts[i]:
                    raise RuntimeError(f"front end gave {int(computed_frames[row])} frames, expected {counts[i]}")
                value = computed[row, : counts[i]].detach().to("cpu", torch.float16)
                if _WRITES:
                    self.write(keys[i], value.numpy())
                found[i] = value.float()
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        out = torch.zeros(len(keys), max(counts), self.bins)
        for i, value in enumerate(found):
            out[i, : counts[i]] = value
        return out
