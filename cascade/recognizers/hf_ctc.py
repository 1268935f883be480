"""Any ``transformers`` CTC model by hub id or path: MMS-1b-all (per-language adapters), wav2vec2 CTC,
MMS zero-shot (uroman-token output: a romanizing recognizer for any language).

Adapter codes come from the workbench's language table (:func:`workbench.languages.mms_code`)
matched against the adapters the model actually has (the languages of its nested vocab.json):
``urd`` becomes ``urd-script_arabic``, a FLORES ``arb_Arab`` the model's ``ara``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from cascade.cache import file_digest
from cascade.recognizers.base import Recognizer, Script, pick_device
from speech.audio import SAMPLE_RATE
from workbench.errors import ConfigError
from workbench.languages import mms_code

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class HFCTCRecognizer(Recognizer):
    """``AutoProcessor`` + ``AutoModelForCTC``, greedy decoding, batched by language and length.

    Args:
        model: hub id (``facebook/mms-1b-all``, ``facebook/wav2vec2-base-960h``) or local folder.
        adapters: ``auto`` (use per-language adapters when the model has them, as MMS does),
            ``always`` or ``never``. With adapters, each language group runs
            ``processor.tokenizer.set_target_lang(lang)`` + ``model.load_adapter(lang)``.
        language_map: workbench language -> the model's adapter key, where the language
            table's choice (:func:`workbench.languages.mms_code`) is not the one wanted.
        script: what the model writes: ``native`` or ``romanized`` (MMS zero-shot's uroman
            tokens: the cascade then skips uroman).
        batch_size: clips per forward pass.
        revision: hub revision.
        device: ``auto``, ``cpu``, ``cuda``...
    """

    def __init__(
        self,
        model: str = "facebook/mms-1b-all",
        adapters: Literal["auto", "always", "never"] = "auto",
        language_map: dict[str, str] | None = None,
        script: Script = "native",
        batch_size: int = 8,
        revision: str | None = None,
        device: str | None = "auto",
    ):
        if script not in ("native", "romanized"):
            raise ConfigError(f"recognizer.script: '{script}' is neither native nor romanized")
        self.name, self.adapters, self.language_map = model, adapters, dict(language_map or {})
        self.script = script
        self.batch_size, self.revision, self.device = batch_size, revision, device
        self._model = self._processor = None
        self._current_lang: str | None = None

    def describe(self) -> dict:
        identity: dict = {"name": self.name, "revision": self.revision}
        folder = Path(self.name)
        if folder.is_dir():
            weights = [folder / f for f in WEIGHT_FILES if (folder / f).is_file()]
            identity = {"weights_sha256": [file_digest(w) for w in weights]}
        described = {"recognizer": "hf-ctc", **identity, "adapters": self.adapters, "language_map": self.language_map}
        return described | ({"script": self.script} if self.script != "native" else {})

    def load(self):
        if self._model is None:
            from transformers import AutoModelForCTC, AutoProcessor

            self._processor = AutoProcessor.from_pretrained(self.name, revision=self.revision)
            self._model = AutoModelForCTC.from_pretrained(self.name, revision=self.revision)
            self._model.to(pick_device(self.device)).eval()
        return self._model, self._processor

    def use_adapters(self) -> bool:
        model, _ = self.load()
        if self.adapters == "auto":
            return getattr(model.config, "adapter_attn_dim", None) is not None
        return self.adapters == "always"

    @property
    def uses_language(self) -> bool:  # noqa: D102 - the language matters only with adapters
        return self.adapters != "never"

    def adapter_keys(self) -> set[str]:
        """The languages the model has adapters for: the keys of its nested (per-language) vocab.json."""
        _, processor = self.load()
        vocab = getattr(processor.tokenizer, "vocab", None)
        if not isinstance(vocab, dict) or not vocab or not all(isinstance(v, dict) for v in vocab.values()):
            raise ConfigError(
                f"recognizer '{self.name}': adapters asked for, but its tokenizer's vocab.json is not per-language"
            )
        return set(vocab)

    def adapter_code(self, language: str) -> str:
        """The adapter key for a workbench language: ``language_map`` first, else the language table's.

        Raises:
            ConfigError: the model has no adapter for the language.
        """
        if language in self.language_map:
            return self.language_map[language]
        return mms_code(language, self.adapter_keys())

    def _select_language(self, language: str) -> None:
        model, processor = self.load()
        code = self.adapter_code(language)
        if code != self._current_lang:
            processor.tokenizer.set_target_lang(code)
            model.load_adapter(code)
            self._current_lang = code

    @torch.no_grad()
    def transcribe(self, waves: list[np.ndarray], languages: list[str | None]) -> list[str]:
        model, processor = self.load()
        adapters = self.use_adapters()
        group_of = [(languages[i] or "") if adapters else "" for i in range(len(waves))]
        order = sorted(range(len(waves)), key=lambda i: (group_of[i], -len(waves[i])))
        texts = [""] * len(waves)
        start = 0
        while start < len(order):
            group = group_of[order[start]]
            batch = [order[start]]
            while len(batch) < self.batch_size and start + len(batch) < len(order):
                if group_of[order[start + len(batch)]] != group:
                    break
                batch.append(order[start + len(batch)])
            start += len(batch)
            if adapters:
                self._select_language(group)
            inputs = processor(
                [np.asarray(waves[i], dtype=np.float32) for i in batch],
                sampling_rate=SAMPLE_RATE,
                padding=True,
                return_tensors="pt",
            )
            logits = model(**{k: v.to(model.device) for k, v in inputs.items()}).logits
            for i, text in zip(batch, processor.batch_decode(logits.argmax(-1)), strict=True):
                texts[i] = text.strip()
        return texts
