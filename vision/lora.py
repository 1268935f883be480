"""LoRA adapters (peft) on the linear layers of an open_clip model's towers.

open_clip's own transformers use ``nn.MultiheadAttention``, whose projections are called
through ``F.multi_head_attention_forward`` and bypass a wrapped ``out_proj``; LoRA therefore
targets the MLP layers there (``c_fc``, ``c_proj``) and, in Hugging Face text towers
(xlm-roberta, NLLB), the attention and MLP linears (``query``, ``key``, ``value``, ``dense``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from workbench.errors import ConfigError

#: module name prefix (regex) of each tower in open_clip's CLIP / CustomTextCLIP
TOWER_PATTERNS = {"image": r"visual\..*", "text": r"(?!visual\.).*"}


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
    target_modules: list[str] = field(default_factory=lambda: ["c_fc", "c_proj", "query", "key", "value", "dense"])


def target_regex(towers: list[str], leaves: list[str]) -> str:
    """A regex peft full-matches against module names: ``<tower prefix>.<leaf>``."""
    names = "|".join(leaves)
    return "|".join(f"(?:{TOWER_PATTERNS[tower]}\\.(?:{names}))" for tower in towers)


def add_lora(model: nn.Module, towers: list[str], settings: LoraSettings) -> nn.Module:
    """Inject LoRA adapters in place into the given towers (``image``, ``text``); returns the model."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=target_regex(towers, list(settings.target_modules)),
    )
    try:
        inject_adapter_in_model(config, model)
    except ValueError as err:
        raise ConfigError(f"model.lora: no layer named {settings.target_modules} in towers {towers}: {err}") from None
    for tower in towers:
        found = [n for n, _ in model.named_parameters() if "lora_" in n and _tower(n) == tower]
        if not found:
            raise ConfigError(f"model.lora: no layer named {settings.target_modules} in the {tower} tower")
    return model


def _tower(name: str) -> str:
    return "image" if name.startswith("visual.") else "text"
