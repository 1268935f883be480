"""The cascade's classifier: a LightningModule over a :class:`~cascade.text_models.TextModel`.

Manual optimisation, because the from-scratch model trains its sparse embedding with
``SparseAdam`` and its dense layer with ``AdamW``: two optimizers stepped together.
``predict_step`` gives ``(index, probabilities)`` per batch, which the program layer collects.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torchmetrics.functional.classification import multiclass_accuracy

from cascade.text_models import TextModel
from workbench.optim import Optim, as_optim, warmup_cosine


class TextClassifier(L.LightningModule):
    """Texts -> classes.

    Args:
        model: the text model (``class_path``: ``cascade.text_models.CharNgramModel``,
            ``cascade.text_models.HFSequenceClassifier``, ``cascade.llm.LLMClassifier``).
        num_classes: set from the data module (linked in ``cascade.fit``).
        optim: ``lr``, ``weight_decay`` (of the dense parameters), ``warmup`` (:mod:`workbench.optim`:
            warm-up fraction + cosine, applied to every optimizer).
        label_smoothing: of the cross-entropy.
        system: name in results tables; default ``ca-<data.script>``.
        class_names: the data's label names (linked in ``cascade.fit``), for models that score them.
    """

    def __init__(
        self,
        model: TextModel,
        num_classes: int = 2,
        optim: Optim | None = None,
        label_smoothing: float = 0.0,
        system: str | None = None,
        class_names: list[str] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        if isinstance(self.hparams.get("model"), nn.Module):  # built in code, not from config
            del self.hparams["model"]
        self.automatic_optimization = False
        self.model = model
        self.model.build(num_classes, class_names)
        self.num_classes = num_classes
        self.optim = as_optim(optim)
        self._schedule = None

    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        return self.model(texts, languages)

    def _lr_factor(self) -> float:
        # manual optimisation: the one schedule, by optimizer step (global_step counts every optimizer)
        if self._schedule is None:
            self._schedule = warmup_cosine(self.trainer.estimated_stepping_batches, self.optim.warmup)
        return self._schedule(self.global_step // max(1, len(self.optimizers_list())))

    def optimizers_list(self) -> list:
        opts = self.optimizers()
        return list(opts) if isinstance(opts, list | tuple) else [opts]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        logits = self(batch["texts"], batch.get("languages"))
        loss = nn.functional.cross_entropy(logits, batch["label"], label_smoothing=self.hparams.label_smoothing)
        optimizers = self.optimizers_list()
        for opt in optimizers:
            opt.zero_grad()
        self.manual_backward(loss)
        factor = self._lr_factor()
        for opt in optimizers:
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])
                group["lr"] = group["base_lr"] * factor
            opt.step()
        acc = multiclass_accuracy(logits.argmax(-1), batch["label"], self.num_classes, average="micro")
        self.log_dict({"train/loss": loss, "train/acc": acc}, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self(batch["texts"], batch.get("languages"))
        loss = nn.functional.cross_entropy(logits, batch["label"])
        acc = multiclass_accuracy(logits.argmax(-1), batch["label"], self.num_classes, average="micro")
        self.log_dict({"val/loss": loss, "val/acc": acc}, prog_bar=True, batch_size=len(batch["label"]))

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index (B,), probabilities (B, C))``: what :mod:`workbench.program` collects."""
        return batch["index"].cpu(), self(batch["texts"], batch.get("languages")).softmax(-1).float().cpu()

    @torch.no_grad()
    def predict_texts(self, texts: list[str], languages: list[str] | None = None, batch_size: int = 64) -> torch.Tensor:
        """Probabilities ``(len(texts), C)`` (eval mode), for the demo and quick checks; ``languages``: each
        text's, for models that read them."""
        self.eval()
        parts = [
            self(texts[i : i + batch_size], languages[i : i + batch_size] if languages else None).softmax(-1).cpu()
            for i in range(0, len(texts), batch_size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, self.num_classes)

    def configure_optimizers(self):
        return self.model.make_optimizers(self.optim.lr, self.optim.weight_decay)
