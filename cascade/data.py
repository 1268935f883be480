"""The cascade's data module: corpus + protocol -> (recognize -> romanize) -> text batches.

The stages run in the trainer's ``setup`` before fitting, through their on-disk caches (under
DDP each rank does its share of what the caches lack and gets the others' results):

1. recognize every evaluated item (and the training/dev items when ``train_on: asr``);
2. romanize the transcripts (when ``script: romanized`` and the recognizer writes native
   script) and the gold texts (``item.romanized`` when the corpus has it, uroman else);
3. translate transcripts and gold texts to English (``translator``: translate-test,
   :mod:`cascade.translate`), so the classifier reads English only.

Batches are ``{"texts": list[str], "languages": list[str], "label": (B,), "index": (B,)}``. The predict dataloaders
are, in order, the recognizer's text of each of ``predict_splits`` (the evaluated splits,
then dev), then the gold text of each evaluated split (the upper bound).
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
from torch.utils.data import DataLoader, Dataset

from cascade.recognize import DEFAULT_CACHE_DIR, transcribe_items
from cascade.recognizers.base import Recognizer
from cascade.romanize_stage import RomanizeStage
from cascade.translate import TranslateStage, Translator
from workbench.data.sources import CorpusSource
from workbench.datamodule import CorpusDataModule
from workbench.errors import ConfigError, DataError
from workbench.items import Item
from workbench.protocols import Protocol
from workbench.romanize import Script

log = logging.getLogger(__name__)

TrainOn = Literal["gold", "asr"]


class TextDataset(Dataset):
    """``(index, text, label, language)`` per item."""

    def __init__(self, items: list[Item], texts: list[str]):
        self.items, self.texts = items, texts

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        item = self.items[index]
        return index, self.texts[index], item.label, item.language


def collate_texts(batch: list) -> dict:
    return {
        "index": torch.tensor([row[0] for row in batch]),
        "texts": [row[1] for row in batch],
        "label": torch.tensor([row[2] for row in batch]),
        "languages": [row[3] for row in batch],
    }


class CascadeDataModule(CorpusDataModule):
    """Texts for the cascade's classifier, from a recognizer's output or the gold transcripts.

    Args:
        source: where the corpus comes from (``class_path`` in config).
        protocol: in_language / all_languages / zero_shot with source languages.
        recognizer: the ASR stage (``class_path``: ``cascade.recognizers.WhisperRecognizer``,
            ``HFCTCRecognizer``, ``CTCCheckpointRecognizer``). None: no ASR, the gold text
            stands in for transcripts (a text-only run).
        script: classify ``native`` script or ``romanized`` (uroman) text.
        train_on: train (and validate) on ``gold`` text or on the recognizer's output
            (``asr``; training audio is transcribed too).
        translator: translate every text (recognizer output and gold) to English before the
            classifier (translate-test; ``class_path``: ``cascade.translate.Translator``); needs
            ``script: native``. None: the classifier reads the items' languages.
        cache_dir: root of the transcript and romanization caches.
        batch_size: texts per batch.
        num_workers: DataLoader workers.
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        recognizer: Recognizer | None = None,
        script: Script = "native",
        train_on: TrainOn = "gold",
        translator: Translator | None = None,
        cache_dir: str = DEFAULT_CACHE_DIR,
        batch_size: int = 32,
        num_workers: int = 0,
    ):
        super().__init__(source, protocol)
        self.batch_size, self.num_workers = batch_size, num_workers
        if script not in ("native", "romanized"):
            raise ConfigError(f"data.script: '{script}' is neither native nor romanized")
        if train_on not in ("gold", "asr"):
            raise ConfigError(f"data.train_on: '{train_on}' is neither gold nor asr")
        if recognizer is not None and recognizer.script == "romanized" and script == "native":
            raise ConfigError("data.script: native text asked of a recognizer that writes romanized text")
        if translator is not None and script != "native":
            raise ConfigError("data.translator: translation reads native text (set data.script: native)")
        self.recognizer, self.script, self.train_on, self.cache_dir = recognizer, script, train_on, cache_dir
        self.translator = translator
        self.transcripts: dict[str, str] = {}  # item id -> recognizer output as written
        self.asr_text: dict[str, str] = {}  # item id -> what the classifier reads (romanized if asked)
        self.gold_text: dict[str, str] = {}
        self._staged = False

    @property
    def system(self) -> str:
        return "ca-translated" if self.translator is not None else f"ca-{self.script}"

    @property
    def label_names(self) -> list[str]:
        # the corpus only: the stages wait for the trainer's setup, where DDP's ranks are known
        # and share the work (asked for earlier, when the CLI links num_classes, every rank
        # that a cluster starts at once would transcribe the whole corpus)
        if self.corpus is None:
            super().setup()
        return self.corpus.label_names

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if not self._staged:
            self.run_stages()
            self._staged = True

    def _items(self, splits: list[str]) -> list[Item]:
        seen, out = set(), []
        for split in splits:
            for item in self.selection[split]:
                if item.id not in seen:
                    seen.add(item.id)
                    out.append(item)
        return out

    def run_stages(self) -> None:
        """Recognize, romanize and translate what this protocol needs (cached); fill the text tables."""
        self._recognize_and_romanize()
        if self.translator is not None:
            stage = TranslateStage(self.translator, self.cache_dir)
            languages = {i.id: i.language for items in self.selection.splits.values() for i in items}
            for table in (self.gold_text, self.asr_text):
                ids = list(table)
                table.update(zip(ids, stage([table[k] for k in ids], [languages[k] for k in ids]), strict=True))

    def _recognize_and_romanize(self) -> None:
        eval_splits = [s for s in self.protocol.eval_splits if self.selection[s]]
        every = self._items(["train", "dev", *eval_splits])
        # dev too: its predictions on recognizer output calibrate the cascade (temperature scaling)
        recognized = self._items(["train", "dev", *eval_splits] if self.train_on == "asr" else [*eval_splits, "dev"])
        romanizer = RomanizeStage(self.cache_dir) if self.script == "romanized" else None
        self.gold_text = dict(zip([i.id for i in every], self._gold(every, romanizer), strict=True))
        if self.recognizer is None:
            self.transcripts = {i.id: (i.text or "") for i in recognized}
            self.asr_text = {i.id: self.gold_text[i.id] for i in recognized}
            return
        self.transcripts = transcribe_items(self.recognizer, recognized, self.cache_dir)
        texts = [self.transcripts[i.id] for i in recognized]
        if romanizer is not None and self.recognizer.script == "native":
            texts = romanizer(texts, [i.language for i in recognized])
        self.asr_text = dict(zip([i.id for i in recognized], texts, strict=True))

    def _gold(self, items: list[Item], romanizer: RomanizeStage | None) -> list[str]:
        if romanizer is None:
            missing = [i.id for i in items if not i.text]
            if missing:
                raise DataError(
                    f"item '{missing[0]}'", "text", "the cascade needs gold text (for training/upper bound)"
                )
            return [i.text for i in items]
        todo = [i for i in items if not i.romanized]
        if any(not i.text for i in todo):
            bad = next(i for i in todo if not i.text)
            raise DataError(f"item '{bad.id}'", "text", "neither text nor romanized is set")
        fresh = dict(
            zip([i.id for i in todo], romanizer([i.text for i in todo], [i.language for i in todo]), strict=True)
        )
        return [i.romanized or fresh[i.id] for i in items]

    # -- loaders ---------------------------------------------------------------------
    def texts_for(self, items: list[Item], kind: Literal["asr", "gold"]) -> list[str]:
        table = self.asr_text if kind == "asr" else self.gold_text
        return [table[i.id] for i in items]

    def text_loader(self, items: list[Item], kind: Literal["asr", "gold"], train: bool = False) -> DataLoader:
        return DataLoader(
            TextDataset(items, self.texts_for(items, kind)),
            batch_size=self.batch_size,
            shuffle=train,
            num_workers=self.num_workers,
            collate_fn=collate_texts,
        )

    def train_dataloader(self) -> DataLoader:
        return self.text_loader(self.selection["train"], self.train_on, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.text_loader(self.selection[self.fit_dev_split], self.train_on)

    def predict_dataloader(self) -> list[DataLoader]:
        asr = [self.text_loader(self.selection[s], "asr") for s in self.predict_splits]
        gold = [self.text_loader(self.selection[s], "gold") for s in self.eval_splits]
        return asr + gold
