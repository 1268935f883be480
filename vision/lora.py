"""LoRA adapters (peft) on the linear layers of an open_clip model's towers.

Adapters go on ``nn.Linear`` layers whose last name is one of ``target_modules``: open_clip's
own transformers' MLPs (``c_fc``, ``c_proj``), Hugging Face text towers' attention and MLP
(xlm-roberta: ``query``/``key``/``value``/``dense``; NLLB: ``q_proj``/``k_proj``/``v_proj``/
``out_proj``/``fc1``/``fc2``). The ``out_proj`` of a ``nn.MultiheadAttention`` is skipped: that
module calls ``F.multi_head_attention_forward`` with the raw weight, bypassing any adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from workbench.errors import ConfigError


@dataclass
class LoraSettings:
    """LoRA hyper-parameters.

    Args:
        r: rank of the update.
        alpha: scaling numerator (update scaled by alpha / r).
        dropout: dropout on the adapter input.
        target_modules: names of the linear layers (last name component) that get adapters.
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: (
            ["c_fc", "c_proj", "query", "key", "value", "dense"]
            + ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
        )
    )


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
    from peft import LoraConfig, inject_adapter_in_model

    targets = target_names(model, towers, list(settings.target_modules))
    for tower in towers:
        if not any(tower_of_module(name) == tower for name in targets):
            raise ConfigError(f"model.lora: no linear layer named {settings.target_modules} in the {tower} tower")
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=targets)
    inject_adapter_in_model(config, model)
    return model


def tower_of_module(name: str) -> str:
    """``image`` for modules under ``visual``, else ``text`` (open_clip CLIP and CustomTextCLIP)."""
    return "image" if name == "visual" or name.startswith("visual.") else "text"
