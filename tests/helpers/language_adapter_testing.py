"""Tiny stand-ins for MAD-X-style language adapters (cascade/language_adapters.py), built locally from the real
config classes with random weights (never downloaded).

Used by tests/test_language_adapters.py and tests/test_systems_sweep.py.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tests.helpers.cascade_testing import tiny_text_classifier


def tiny_xlmr_mlm(folder: str | Path, texts: list[str], vocab_size: int = 200) -> Path:
    """A tiny random XLM-R saved as ``XLMRobertaForMaskedLM`` (as the hub's ``FacebookAI/xlm-roberta-base`` is:
    its MLM head included, which a sequence classifier drops) + the tokenizer of :func:`tiny_text_classifier`."""
    from transformers import XLMRobertaForMaskedLM

    folder = tiny_text_classifier(folder, texts, vocab_size=vocab_size)
    torch.manual_seed(0)
    config = XLMRobertaForMaskedLM.config_class.from_pretrained(folder)
    config.tie_word_embeddings = True
    XLMRobertaForMaskedLM(config).save_pretrained(folder)
    return folder


def random_language_adapters(root: str | Path, base: Path, languages: list[str], r: int = 4, seed: int = 0) -> Path:
    """One LoRA per language on ``base``'s masked LM, saved as ``root/<language>/`` (as
    cascade.fit_language_adapters writes them), its B matrices random so that each adapter changes the output."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForMaskedLM

    from cascade.language_adapters import ADAPTER_TARGETS

    root = Path(root)
    for k, language in enumerate(languages):
        torch.manual_seed(seed + k)
        model = get_peft_model(
            AutoModelForMaskedLM.from_pretrained(base),
            LoraConfig(r=r, lora_alpha=2 * r, target_modules=ADAPTER_TARGETS),
            adapter_name=language,
        )
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.data.normal_(0, 0.5)
        model.save_pretrained(root)  # peft: an adapter not named "default" goes to root/<its name>/
    return root
