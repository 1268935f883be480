"""MAD-X-style language adapters (Pfeiffer et al. 2020) for the cascade's text classifier, on ``peft`` LoRA.

MAD-X trains one adapter per language by masked-LM on unlabeled text
(:mod:`cascade.fit_language_adapters`), then ONE task adapter on the source language with the source's
language adapter active beneath it; at test each text's OWN language adapter is swapped in under the
same task adapter (zero-shot transfer), the base model never changing.

Built on ``peft`` LoRA, not on the ``adapters`` library (AdapterHub) that issue 30 names: ``adapters``
1.3.0 does not import with the installed transformers 5. So LoRA adapters stand in for MAD-X's
bottleneck adapters, and "stacking" is peft's: several LoRA adapters active on the same layer add their
updates (``W x + B_lang A_lang x + B_task A_task x``) where MAD-X feeds the language adapter's output
into the task adapter. The recipe (frozen base, per-language MLM adapters, one task adapter, swap at
test) is MAD-X's; the adapter's form is LoRA's.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Literal

import torch

from cascade.text_models import TextModel
from workbench.errors import ConfigError
from workbench.lora import LoraSettings, as_lora, lora_config
from workbench.optim import decay_groups

# the attention's query/value and the feed-forward of every XLM-R layer (where MAD-X puts its adapters);
# never a bare "dense": it would also match the MLM head's and the classification head's layers
ADAPTER_TARGETS = ["query", "value", "intermediate.dense", "output.dense"]
TASK = "task"  # the task adapter's name; no language code is "task" (ISO 639-3 has none)
ADAPTER_CONFIG = "adapter_config.json"  # what peft's save_pretrained writes in each adapter's folder
Missing = Literal["error", "none"]


def adapter_folders(root: str | Path) -> dict[str, Path]:
    """``{language: folder}`` of the language adapters under ``root`` (one ``save_pretrained`` folder each,
    named by its language code), in language order."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"model.model.init_args.adapters: no folder '{root}' (fit it: python -m cascade.fit_language_adapters)"
        )
    found = {p.name: p for p in sorted(root.iterdir()) if (p / ADAPTER_CONFIG).is_file()}
    if not found:
        raise ConfigError(
            f"model.model.init_args.adapters: '{root}' holds no language adapter (<language>/{ADAPTER_CONFIG})"
        )
    return found


class LanguageAdapterClassifier(TextModel):
    """XLM-R (frozen) + every language adapter of ``adapters`` (frozen) + one task LoRA and the head (trained).

    Each text is classified with its language's adapter active under the task adapter; a batch mixing
    languages is split by language (one forward per language, rows put back in order).

    Args:
        model: hub id (``FacebookAI/xlm-roberta-base``) or local folder: the base the language adapters were
            trained on (:mod:`cascade.fit_language_adapters`), loaded as a sequence classifier.
        adapters: folder of the language adapters (``<run_dir>/language_adapters`` of that program).
        missing: a text whose language has no adapter (or no language): ``error`` (names the language and
            the folder) or ``none`` (the task adapter alone).
        task: the task adapter's LoRA (targets default: :data:`ADAPTER_TARGETS`).
        max_length: tokens per text (longer texts are truncated).
        revision: hub revision of ``model``.
    """

    def __init__(
        self,
        model: str = "FacebookAI/xlm-roberta-base",
        adapters: str = "runs/language_adapters/language_adapters",
        missing: Missing = "error",
        task: LoraSettings | None = None,
        max_length: int = 128,
        revision: str | None = None,
    ):
        super().__init__()
        from transformers import AutoTokenizer

        if missing not in ("error", "none"):
            raise ConfigError(f"model.model.init_args.missing: '{missing}' is neither error nor none")
        self.name, self.adapters, self.missing = model, str(adapters), missing
        self.task, self.max_length, self.revision = as_lora(task), max_length, revision
        self.folders = adapter_folders(adapters)
        self.languages = list(self.folders)
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
        self.model = None

    def build(self, num_classes: int, label_names: list[str] | None = None) -> None:
        if self.model is not None:
            return
        from peft import PeftModel
        from transformers import AutoModelForSequenceClassification

        # XLM-R's hub checkpoint is a masked LM: the classification head starts fresh, of our size
        base = AutoModelForSequenceClassification.from_pretrained(
            self.name, num_labels=num_classes, revision=self.revision, ignore_mismatched_sizes=True
        )
        first, *rest = self.languages
        self.model = PeftModel.from_pretrained(base, self.folders[first], adapter_name=first)
        for language in rest:
            self.model.load_adapter(self.folders[language], adapter_name=language)
        self.model.add_adapter(TASK, lora_config(self.task, list(self.task.target_modules or ADAPTER_TARGETS)))
        self.language_weights = {  # what activate freezes again after peft's set_adapter made it trainable
            language: [p for n, p in self.model.named_parameters() if f".{language}." in n and "lora_" in n]
            for language in self.languages
        }
        for name, param in self.model.named_parameters():
            param.requires_grad = f".{TASK}." in name and "lora_" in name
        for param in self.head().parameters():
            param.requires_grad = True
        self.activate(first)

    def head(self) -> torch.nn.Module:
        """The classification head (trained with the task adapter)."""
        return self.model.base_model.model.classifier

    def activate(self, language: str | None) -> list[str]:
        """Make ``language``'s adapter active under the task adapter (the task's alone when the language has
        none and ``missing`` is ``none``); only the task adapter and the head require grad. Returns the
        active adapters."""
        if language in self.folders:
            names = [language, TASK]
        elif self.missing == "none":
            names = [TASK]
        else:
            what = f"language '{language}'" if language is not None else "a text whose language is not given"
            raise ConfigError(
                f"model.model.init_args.adapters: no adapter for {what} in '{self.adapters}' "
                "(fit one, or set missing: none for the task adapter alone)"
            )
        self.model.base_model.set_adapter(names)  # peft: every active adapter trainable, the inactive ones not
        for param in self.language_weights.get(language, []):
            param.requires_grad = False  # the language's adapter stays as its masked-LM fit left it
        return names

    def logits(self, texts: list[str]) -> torch.Tensor:
        """Logits ``(B, C)`` of ``texts`` with the adapters active now."""
        device = next(self.model.parameters()).device
        batch = self.tokenizer(
            [t or "" for t in texts], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return self.model(**{k: v.to(device) for k, v in batch.items()}).logits

    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        """``len(texts)`` strings in ``languages`` -> logits ``(B, C)``, each under its language's adapter."""
        rows = defaultdict(list)  # language -> positions in the batch, in first-seen order
        for k, language in enumerate(languages if languages is not None else [None] * len(texts)):
            rows[language].append(k)
        parts, order = [], []
        for language, positions in rows.items():
            self.activate(language)
            parts.append(self.logits([texts[k] for k in positions]))
            order += positions
        back = torch.argsort(torch.tensor(order, device=parts[0].device))
        return torch.cat(parts)[back]

    def describe(self) -> dict:
        """What the run record says of the adapters: the folder, the languages with one, the fallback."""
        return {"adapters": self.adapters, "languages": self.languages, "missing": self.missing}

    def make_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        trained = [p for p in self.model.parameters() if p.requires_grad]  # the task adapter and the head
        return [torch.optim.AdamW(decay_groups(trained, weight_decay), lr=lr)]
