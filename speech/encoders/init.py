"""Initialising an encoder from another model's checkpoint (e.g. the cascade's CTC recognizer).

Reads only tensors: ``torch.load(weights_only=True)`` for Lightning / torch checkpoints,
``safetensors`` for ``.safetensors`` files, so loading never executes pickled code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from workbench.errors import ConfigError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat ``name -> tensor`` dict from a Lightning checkpoint, a torch state dict or safetensors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"init_from: checkpoint not found ({path})")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(blob, dict) and "state_dict" in blob:
        blob = blob["state_dict"]
    if not isinstance(blob, dict):
        raise ConfigError(f"init_from: {path} holds no state dict")
    return blob


def load_prefixed(module: nn.Module, path: str | Path, prefix: str = "encoder.", strict: bool = True) -> list[str]:
    """Load the ``prefix*`` entries of a checkpoint into ``module``; return the keys loaded.

    The prefix is found anywhere in a key (``encoder.x`` or ``model.encoder.x``) so that a
    recognizer nested one level deeper still loads.
    """
    state = read_state_dict(path)
    picked = {}
    for key, value in state.items():
        at = key.find(prefix)
        if at == 0 or (at > 0 and key[at - 1] == "."):
            picked.setdefault(key[at + len(prefix) :], value)
    if not picked:
        raise ConfigError(f"init_from: no '{prefix}*' weights in {path}")
    try:
        missing, unexpected = module.load_state_dict(picked, strict=False)
    except RuntimeError as err:  # shape mismatch
        raise ConfigError(f"init_from: {path} does not fit this encoder: {str(err)[:400]}") from None
    if strict and (missing or unexpected):
        raise ConfigError(
            f"init_from: {path} does not fit this encoder: missing {missing[:5]}..., unexpected {unexpected[:5]}..."
        )
    return sorted(picked)
