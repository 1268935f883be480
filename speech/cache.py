"""On-disk cache of frozen-encoder outputs, so later epochs and reruns skip the encoder.

One file per clip: ``<root>/<config digest>/<content hash[:2]>/<content hash>.pt`` holding
the clip's valid frames of every layer (``(L, F, D)``) or of the last layer only
(``(1, F, D)``). The config digest covers the encoder's class, preprocessing, size and a
fingerprint of its weights, so a different or retrained encoder never reads stale outputs.
Entries are written atomically (temporary file + rename); an unreadable or truncated entry
counts as missing and is recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path

import torch

from speech.encoders.base import EncoderOutput, SpeechEncoder
from workbench.io import atomic_write_bytes

log = logging.getLogger(__name__)


def weights_fingerprint(module: torch.nn.Module) -> str:
    """SHA-1 over every parameter and buffer (names, shapes and bytes)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class EncoderCache:
    """Frozen encoder outputs by clip content.

    Args:
        root: cache folder.
        encoder: the frozen encoder (its config and weights key the cache).
        all_layers: store every layer (needed by the layer-weighted sum) or only the last.
        dtype: storage dtype (float16 halves the disk; float32 is exact).
    """

    def __init__(self, root: str | Path, encoder: SpeechEncoder, all_layers: bool, dtype: torch.dtype = torch.float16):
        self.encoder, self.all_layers, self.dtype = encoder, all_layers, dtype
        self.root = Path(root)
        self._folder: Path | None = None
        self.encoder_calls = 0  # clips encoded (cache misses), for tests and logs
        self.hits = 0

    @property
    def folder(self) -> Path:
        if self._folder is None:
            key = {
                **self.encoder.config_key,
                "weights": weights_fingerprint(self.encoder),
                "all_layers": self.all_layers,
                "dtype": str(self.dtype),
            }
            digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
            self._folder = self.root / digest
        return self._folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pt"

    def read(self, key: str) -> torch.Tensor | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            value = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or corrupt: recompute
            log.warning("encoder cache: unreadable entry %s (%s); recomputing", path, err)
            return None
        return value if isinstance(value, torch.Tensor) and value.dim() == 3 else None

    def write(self, key: str, value: torch.Tensor) -> None:
        buffer = io.BytesIO()
        torch.save(value.to(self.dtype).contiguous().clone(), buffer)
        atomic_write_bytes(self.path(key), buffer.getvalue())

    @torch.no_grad()
    def _encode(self, waves: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Encode clips; return each one's ``(L, F_i, D)`` valid frames."""
        self.encoder.eval()
        out = self.encoder(waves, lengths)
        layers = out.layers if self.all_layers else (out.hidden,)
        if layers is None:
            raise ValueError(f"{type(self.encoder).__name__} returns no per-layer outputs")
        stacked = torch.stack(layers)  # (L, B, F, D)
        return [stacked[:, i, : int(n)].float().cpu() for i, n in enumerate(out.lengths)]

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor, keys: list[str]) -> EncoderOutput:
        """Batch -> EncoderOutput from the cache, encoding (and storing) only the misses.

        Returns ``hidden`` = last stored layer and ``layers`` = all stored layers, padded.
        """
        found = [self.read(key) for key in keys]
        missing = [i for i, value in enumerate(found) if value is None]
        self.hits += len(keys) - len(missing)
        if missing:
            sub_lengths = lengths[missing]
            sub = waves[missing][:, : int(sub_lengths.max())]
            for i, value in zip(missing, self._encode(sub, sub_lengths), strict=True):
                self.write(keys[i], value)
                found[i] = value.to(self.dtype).float()
            self.encoder_calls += len(missing)
        frames = torch.tensor([value.shape[1] for value in found])
        num_layers, _, dim = found[0].shape
        padded = torch.zeros(num_layers, len(found), int(frames.max()), dim)
        for i, value in enumerate(found):
            padded[:, i, : value.shape[1]] = value.float()
        padded = padded.to(waves.device)
        layers = tuple(padded.unbind(0))
        return EncoderOutput(hidden=layers[-1], lengths=frames.to(waves.device), layers=layers)
