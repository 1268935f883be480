"""One LoRA vocabulary for every module with adapters (peft): ``model.lora``.

In config, speech (``model.mode: lora``) and vision (``model.lora`` set) take the same keys::

    model:
      lora:
        r: 8                # rank of the update
        alpha: 16           # scaling numerator (update scaled by alpha / r)
        dropout: 0.0        # dropout on the adapter input
        target_modules: null  # module names to adapt; null: the model's own default

The default targets belong to the model: a speech encoder's ``lora_targets()``, the open_clip
towers' linear layers (:mod:`vision.lora`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from workbench.errors import ConfigError


@dataclass
class LoraSettings:
    """LoRA hyper-parameters.

    Args:
        r: rank of the update.
        alpha: scaling numerator (update scaled by alpha / r).
        dropout: dropout on the adapter input.
        target_modules: names of the modules that get adapters; None: the model's default.
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] | None = None


# modules built in code keep settings in their hyper-parameters (checkpoints read with weights_only=True)
torch.serialization.add_safe_globals([LoraSettings])


def as_lora(value: LoraSettings | dict | None) -> LoraSettings:
    """:class:`LoraSettings` from a config value (a dict when rebuilt from a checkpoint's hparams)."""
    return value if isinstance(value, LoraSettings) else LoraSettings(**(value or {}))


def lora_config(settings: LoraSettings, targets: list[str]):
    """peft's ``LoraConfig`` of ``settings`` on the modules named by ``targets``."""
    from peft import LoraConfig

    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=targets)


def inject(model: nn.Module, settings: LoraSettings, targets: list[str]) -> None:
    """Adapters (peft) in place on ``model``'s modules named by ``targets`` (its trainable flags unchanged)."""
    from peft import inject_adapter_in_model

    inject_adapter_in_model(lora_config(settings, targets), model)


def adapters_only(model: nn.Module, settings: LoraSettings, default_targets: list[str]) -> None:
    """Adapters on ``settings.target_modules`` (else ``default_targets``), the only trainable
    parameters of ``model``; kept in float32 over a bf16 base so that small updates are not rounded away.

    Raises:
        ConfigError: no module of ``model`` has a target's name.
    """
    try:
        inject(model, settings, list(settings.target_modules or default_targets))
    except ValueError as err:  # peft: no module matched
        raise ConfigError(f"model.lora.target_modules: {err}") from None
    for name, param in model.named_parameters():
        param.requires_grad = "lora_" in name
        if param.requires_grad:
            param.data = param.data.float()
