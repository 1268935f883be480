"""The E2E classifier: encoder -> (layer-weighted sum) -> pooling -> head, as a LightningModule.

Training modes:

- ``full``: every weight trains (the from-scratch default; pretrained fine-tuning).
- ``frozen``: the encoder is fixed and its outputs come from an on-disk cache
  (:class:`~speech.cache.EncoderCache`), so only the first epoch runs it.
- ``lora``: low-rank adapters (``peft``, ``model.lora``: :mod:`workbench.lora`) on the
  encoder's ``lora_targets()`` modules unless ``model.lora.target_modules`` names others; the
  head, pooling and layer weights are ordinary trainable modules of this LightningModule, so
  they are always in its checkpoint (peft's ``modules_to_save`` trap does not arise), and
  :meth:`export_adapter` / :meth:`load_adapter` save and restore adapters + head together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import lightning as L
import torch
from torch import nn

from speech.cache import EncoderCache
from speech.encoders import from_checkpoint
from speech.encoders.base import EncoderOutput, SpeechEncoder
from speech.pooling import LayerWeightedSum, MeanMaxPooling, Pooling
from workbench.lora import LoraSettings, as_lora, inject
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups

Mode = Literal["full", "frozen", "lora"]
ADAPTER_FILE = "adapter.safetensors"


class SpeechClassifier(L.LightningModule):
    """Utterance classification on top of any :class:`SpeechEncoder`.

    Args:
        encoder: the speech encoder (``class_path`` + ``init_args``).
        num_classes: classes (linked from the data module; leave 0 in config).
        pooling: frames -> vector (mean, mean+max, attentive statistics).
        layer_weighting: learn softmax weights over all encoder layers before pooling (SUPERB).
        mode: ``full`` fine-tuning, ``frozen`` encoder with output cache, or ``lora``.
        init_from: checkpoint whose ``encoder.*`` weights initialise the encoder (e.g. the
            cascade's CTC recognizer); torch/Lightning ``.ckpt`` or ``.safetensors``.
        cache_dir: frozen mode: folder of the encoder-output cache (None: no cache).
        lora: LoRA settings (``r``, ``alpha``, ``dropout``, ``target_modules``: module name
            patterns to adapt; default: the encoder's ``lora_targets()``); lora mode only.
        head_hidden: width of a hidden layer in the head (0: a linear head).
        dropout: dropout before the head.
        optim: ``lr`` (of the head, and of the encoder unless ``encoder_lr`` is set),
            ``weight_decay``, ``warmup`` (:mod:`workbench.optim`: warm-up fraction + cosine).
        encoder_lr: learning rate of the encoder (pretrained fine-tuning wants a smaller one).
        system: name in results tables, e.g. ``e2e-conv``.
    """

    def __init__(
        self,
        encoder: SpeechEncoder,
        num_classes: int = 0,
        pooling: Pooling | None = None,
        layer_weighting: bool = False,
        mode: Mode = "full",
        init_from: str | None = None,
        cache_dir: str | None = "data/cache/encoder_outputs",
        lora: LoraSettings | None = None,
        head_hidden: int = 0,
        dropout: float = 0.1,
        optim: Optim | None = None,
        encoder_lr: float | None = None,
        system: str = "e2e",
    ):
        super().__init__()
        if num_classes < 1:
            raise ValueError("num_classes must be set (it is linked from data.num_classes)")
        self.save_hyperparameters(ignore=["encoder", "pooling"])
        self.encoder = encoder
        if init_from:
            from_checkpoint(encoder, init_from)
        self.pooling = pooling if pooling is not None else MeanMaxPooling()
        self.mix = LayerWeightedSum(encoder.num_layers) if layer_weighting else None
        width = self.pooling.out_dim(encoder.dim)
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if head_hidden:
            layers += [nn.Linear(width, head_hidden), nn.GELU(), nn.Dropout(dropout)]
            width = head_hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))
        self.mode, self.system = mode, system
        self.optim = as_optim(optim)
        self.cache = None
        if mode == "frozen":
            encoder.requires_grad_(False)
        elif mode == "lora":
            self._add_lora(as_lora(lora))

    # -- modes ---------------------------------------------------------------------------
    def _add_lora(self, lora: LoraSettings) -> None:
        targets = list(lora.target_modules or self.encoder.lora_targets())
        if not targets:
            raise ValueError(f"{type(self.encoder).__name__}: no LoRA target modules; set model.lora.target_modules")
        inject(self.encoder, lora, targets)  # in place: the head stays a plain trainable module
        for name, param in self.encoder.named_parameters():
            param.requires_grad_("lora_" in name)

    def _encoder_cache(self):
        if self.cache is None:
            self.cache = EncoderCache(self.hparams.cache_dir, self.encoder, all_layers=self.mix is not None)
        return self.cache

    def encode(self, batch: dict) -> EncoderOutput:
        """Encoder outputs for a batch, through the cache in frozen mode."""
        waves, lengths = batch["waves"], batch["lengths"]
        if self.mode == "frozen":
            self.encoder.eval()  # fixed features: no dropout, BatchNorm statistics, SpecAugment
            if self.hparams.cache_dir:
                return self._encoder_cache()(waves, lengths, batch["keys"])
            with torch.no_grad():
                return self.encoder(waves, lengths)
        return self.encoder(waves, lengths)

    def forward(self, batch: dict) -> torch.Tensor:
        """Batch dict (see :mod:`speech.data`) -> logits ``(B, num_classes)``."""
        out = self.encode(batch)
        if self.mix is not None:
            if out.layers is None:
                raise ValueError(f"{type(self.encoder).__name__} gives no per-layer outputs for layer_weighting")
            frames = self.mix(out.layers)
        else:
            frames = out.hidden
        pooled = self.pooling(frames.float(), out.lengths)
        return self.head(pooled)

    # -- steps ---------------------------------------------------------------------------
    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        logits = self(batch)
        loss = nn.functional.cross_entropy(logits, batch["label"])
        acc = (logits.argmax(-1) == batch["label"]).float().mean()
        size = len(batch["label"])
        sync = stage != "train"
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train", batch_size=size, sync_dist=sync)
        self.log(f"{stage}/acc", acc, prog_bar=True, batch_size=size, sync_dist=sync)
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index (B,), probabilities (B, C))``: what :mod:`workbench.program` collects."""
        return batch["index"].cpu(), torch.softmax(self(batch).float(), dim=-1).cpu()

    # -- optimisation ------------------------------------------------------------------------
    def configure_optimizers(self):
        encoder_params = [p for p in self.encoder.parameters() if p.requires_grad]
        other = [p for n, p in self.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
        wd = self.optim.weight_decay
        groups = decay_groups(other, wd, lr=self.optim.lr)
        groups += decay_groups(encoder_params, wd, lr=self.hparams.encoder_lr or self.optim.lr)
        return adamw_warmup_cosine(groups, self.optim, self.trainer)

    # -- adapters --------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything LoRA training changes: adapters, head, pooling, layer weights."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {n: t.detach().cpu().contiguous() for n, t in self.state_dict().items() if n in names}

    def export_adapter(self, folder: str | Path) -> Path:
        """Save adapters + head (+ pooling, layer weights) to ``<folder>/adapter.safetensors``."""
        from safetensors.torch import save_file

        path = Path(folder) / ADAPTER_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(self.trainable_state(), str(path))
        return path

    def load_adapter(self, folder: str | Path) -> None:
        """Restore what :meth:`export_adapter` saved; every saved tensor must find its place."""
        from safetensors.torch import load_file

        state = load_file(str(Path(folder) / ADAPTER_FILE))
        missing = set(self.trainable_state()) - set(state)
        if missing:
            raise ValueError(f"adapter file lacks {sorted(missing)[:5]}")
        unexpected = self.load_state_dict(state, strict=False).unexpected_keys
        if unexpected:
            raise ValueError(f"adapter file has unknown tensors {unexpected[:5]}")
