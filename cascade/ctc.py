"""A CTC recognizer trained here: a speech encoder + a linear head over characters.

The encoder is the E2E path's (``speech.encoders``, passed in by ``class_path``), so the
E2E classifier can initialise from this recognizer's checkpoint (``encoder.*`` weights).
The character vocabulary is taken from the data module when fitting begins and stored in
the checkpoint, so a checkpoint alone is a working recognizer.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from cascade.asr_text import Vocabulary, error_rates
from speech.encoders.base import SpeechEncoder
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups

# the recognizer's defaults (CTC wants a larger learning rate and a longer warm-up than a classifier)
RECOGNIZER_OPTIM = Optim(lr=3e-3, weight_decay=1e-2, warmup=0.15)


class CTCRecognizer(L.LightningModule):
    """Encoder -> dropout -> linear -> log-softmax, trained with CTC, decoded greedily.

    Args:
        encoder: the speech encoder (e.g. ``speech.encoders.conv.ConvEncoder``).
        optim: ``lr``, ``weight_decay``, ``warmup`` (:mod:`workbench.optim`: AdamW, warm-up
            fraction + cosine); keys left out take :data:`RECOGNIZER_OPTIM`'s values.
        dropout: before the output layer.
        script: what the targets are (``native``/``romanized``); set from the data module.
        symbols: the characters (without blank); set from the data module when None.
        signal: ignored (the encoder's ``signal``, saved so a checkpoint tells what it reads).

    The encoder may read speech (``waves (B, T)``) or text images (``vision.line_encoder``:
    line strips ``(B, H, W)``); ``lengths`` are then samples or columns.
    """

    def __init__(
        self,
        encoder: SpeechEncoder,
        optim: Optim | None = None,
        dropout: float = 0.1,
        script: str | None = None,
        symbols: list[str] | None = None,
        signal: str | None = None,
    ):
        super().__init__()
        # Under LightningCLI the encoder is saved as its class_path/init_args config, so the
        # checkpoint alone rebuilds the model; a module built in code keeps it out of hparams.
        self.save_hyperparameters()
        if isinstance(self.hparams.get("encoder"), nn.Module):
            del self.hparams["encoder"]
        self.encoder = encoder
        self.optim = as_optim(optim, RECOGNIZER_OPTIM)
        self.dropout = nn.Dropout(dropout)
        self.vocabulary: Vocabulary | None = None
        self.head: nn.Linear | None = None
        self.script = script
        # what the encoder reads ("audio" or "image"): the cascade learns it from the checkpoint
        self.hparams["signal"] = getattr(encoder, "signal", "audio")
        if symbols is not None:
            self._build_head(symbols)
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        self._val: list[tuple[list[str], list[str]]] = []

    def _build_head(self, symbols: list[str]) -> None:
        self.vocabulary = Vocabulary(symbols)
        self.head = nn.Linear(self.encoder.dim, len(self.vocabulary))
        self.hparams["symbols"] = list(symbols)

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        if self.head is None:
            if data is None or not hasattr(data, "vocabulary"):
                raise RuntimeError("CTCRecognizer needs symbols or a data module with a vocabulary")
            self._build_head(data.vocabulary.symbols[1:])
        if data is not None and hasattr(data, "script"):
            self.script = data.script
            self.hparams["script"] = data.script
        if data is not None and hasattr(data, "use_front_end"):
            # images: the data module prepares them with the encoder's own front end
            data.use_front_end(self.encoder.prepare)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # runs before load_state_dict: the head must exist with the checkpoint's vocabulary
        hparams = checkpoint.get("hyper_parameters", {})
        symbols = hparams.get("symbols")
        if self.head is None and symbols:
            self._build_head(symbols)
        self.script = hparams.get("script", self.script)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``waves (B, T)``, ``lengths (B,)`` samples -> log-probs ``(B, F, V)``, frames ``(B,)``."""
        out = self.encoder(waves, lengths)
        return self.head(self.dropout(out.hidden)).log_softmax(-1), out.lengths

    def loss(self, batch: dict) -> torch.Tensor:
        log_probs, frames = self(batch["waves"], batch["lengths"])
        return self.ctc(log_probs.transpose(0, 1), batch["targets"], frames, batch["target_lengths"])

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["lengths"]))
        return loss

    @torch.no_grad()
    def transcribe_batch(self, waves: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        log_probs, frames = self(waves, lengths)
        return self.vocabulary.greedy_decode(log_probs, frames)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log("val/loss", self.loss(batch), batch_size=len(batch["lengths"]))
        hyps = self.transcribe_batch(batch["waves"], batch["lengths"])
        refs = [
            self.vocabulary.decode_ids(row[:n].tolist())
            for row, n in zip(batch["targets"], batch["target_lengths"], strict=True)
        ]
        self._val.append((refs, hyps))

    def on_validation_epoch_end(self) -> None:
        refs = [r for part, _ in self._val for r in part]
        hyps = [h for _, part in self._val for h in part]
        self._val.clear()
        if refs:
            self.log("val/cer", error_rates(refs, hyps)["cer"], prog_bar=True)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return adamw_warmup_cosine(decay_groups(params, self.optim.weight_decay), self.optim, self.trainer)
