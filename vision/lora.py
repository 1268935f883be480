"""LoRA adapters (peft) on the linear layers of an open_clip model's towers.

Adapters go on ``nn.Linear`` layers whose last name is one of ``target_modules``: open_clip's
own transformers' MLPs (``c_fc``, ``c_proj``), Hugging Face text towers' attention and MLP
(xlm-roberta: ``query``/``key``/``value``/``dense``; NLLB: ``q_proj``/``k_proj``/``v_proj``/
``out_proj``/``fc1``/``fc2``). The ``out_proj`` of a ``nn.MultiheadAttention`` is skipped: that
module calls ``F.multi_head_attention_forward`` with the raw weight, bypassing any adapter.
"""

from __future__ import annotations

from torch import nn

from workbench.errors import ConfigError
from workbench.lora import LoraSettings, inject

__all__ = ["CLIP_TARGETS", "LoraSettings", "add_lora", "target_names", "tower_of_module"]

# the linear layers (last name component) that get adapters when model.lora.target_modules is null
CLIP_TARGETS = ["c_fc", "c_proj", "query", "key", "value", "dense"]  # open_clip's own, xlm-roberta
CLIP_TARGETS += ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]  # NLLB


def target_names(model: nn.Module, towers: list[str], leaves: list[str]) -> list[str]:
    """Full names of the linear layers that get adapters (see the module docstring)."""
    inside_mha = {
        f"{name}.{child}" if name else child
        for name, module in model.named_modules()
        if isinstance(module, nn.MultiheadAttention)
        for child, _ in module.named_children()
    }
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and name.rsplit(".", 1)[-1] in leaves
        and tower_of_module(name) in towers
        and name not in inside_mha
    ]


def add_lora(model: nn.Module, towers: list[str], settings: LoraSettings) -> nn.Module:
    """Inject LoRA adapters in place into the given towers (``image``, ``text``); returns the model."""
    leaves = list(settings.target_modules or CLIP_TARGETS)
    targets = target_names(model, towers, leaves)
    for tower in towers:
        if not any(tower_of_module(name) == tower for name in targets):
            raise ConfigError(f"model.lora: no linear layer named {leaves} in the {tower} tower")
    inject(model, settings, targets)
    return model


def tower_of_module(name: str) -> str:
    """``image`` for modules under ``visual``, else ``text`` (open_clip CLIP and CustomTextCLIP)."""
    return "image" if name == "visual" or name.startswith("visual.") else "text"
