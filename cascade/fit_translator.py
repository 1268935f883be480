"""Train a tiny translator on the corpus' own parallel texts: ``python -m cascade.fit_translator -c CONFIG``.

A STAND-IN for NLLB-200 / M2M100 where none can be downloaded (the offline embedded sweep): the
same architecture class (``M2M100ForConditionalGeneration``, NLLB's) at tiny dimensions, with an
``NllbTokenizer`` (FLORES-200 language tokens) over a BPE vocabulary trained here with ``tokenizers``,
both trained from scratch on the TRAINING split only. The embedded corpus says each content in every
language (``content_id``), so each training item in a language other than the target pairs with the
target-language item of the same content; dev pairs choose the best checkpoint (lowest loss), and test
texts are never read. It translates the corpus' own vocabulary and nothing else: a system using it is
labelled a stand-in (``-standin``), never passed off as NLLB.

LightningCLI parses (``--print_config``); the run directory (``--run_dir``) gets the usual
``checkpoints/`` and, at the end, ``translator/``: the best weights and the tokenizer as
``save_pretrained`` folders, which :class:`cascade.translate.Translator` loads like a hub model
(``--data.translator.init_args.model <run_dir>/translator``), and ``translator/dev_scores.json``:
per source language, the share of dev texts translated exactly and the character error rate.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import Dataset

from cascade.asr_text import error_rates_by_language
from cascade.translate import Translator
from cascade.vocabulary import SPECIALS, learn_subwords
from workbench.data.sources import CorpusSource
from workbench.datamodule import CorpusDataModule
from workbench.distributed import program_scope
from workbench.errors import DataError
from workbench.io import atomic_write_json
from workbench.items import Item
from workbench.languages import resolve
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups
from workbench.program import Run, entry, load_best_weights, train_by_dev_loss
from workbench.protocols import Protocol

log = logging.getLogger(__name__)
FOLDER = "translator"  # in the run directory: what Translator loads


def parallel_pairs(items: list[Item], target: str) -> list[tuple[Item, Item]]:
    """``(item, its target-language translation)`` for every item not in ``target`` whose content the
    target language also says (same ``content_id``, same split)."""
    said = {(i.split, i.content_id): i for i in items if i.language == target}
    return [(i, said[i.split, i.content_id]) for i in items if i.language != target and (i.split, i.content_id) in said]


def train_tokenizer(texts: list[str], vocab_size: int):
    """An ``NllbTokenizer`` (FLORES-200 language tokens) over a BPE vocabulary learnt from ``texts``."""
    from transformers import NllbTokenizer

    model = json.loads(learn_subwords(texts, vocab_size, "bpe", SPECIALS).to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return NllbTokenizer(vocab=model["vocab"], merges=merges)


class PairDataset(Dataset):
    """``(source text, its FLORES code, target text)`` per pair."""

    def __init__(self, pairs: list[tuple[Item, Item]]):
        self.rows = [(s.text, resolve(s.language).flores, t.text) for s, t in pairs]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        return self.rows[index]


class ParallelTextDataModule(CorpusDataModule):
    """Corpus + protocol -> token ids of (text, its translation into ``target_language``); trains the tokenizer.

    Args:
        source: the corpus (``speech.sources.Embedded``: only its texts are read).
        protocol: which languages train (``all_languages``: every one).
        target_language: the language translated into.
        vocab_size: BPE vocabulary learnt from the training texts (plus NLLB's language tokens).
        batch_size: pairs per batch.
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        target_language: str = "eng",
        vocab_size: int = 4000,
        batch_size: int = 64,
    ):
        super().__init__(source, protocol)
        self.target, self.vocab_size, self.batch_size = resolve(target_language).code, vocab_size, batch_size
        self.tokenizer = None

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.tokenizer is None:
            train = self.selection["train"]
            if not parallel_pairs(train, self.target):
                raise DataError(f"protocol {self.protocol.tag}", "train", f"no item has a '{self.target}' translation")
            self.tokenizer = train_tokenizer([i.text for i in train], self.vocab_size)

    def make_dataset(self, items: list[Item], train: bool) -> Dataset:
        return PairDataset(parallel_pairs(items, self.target))

    def collate(self, batch: list) -> dict:
        tokenizer, target = self.tokenizer, resolve(self.target).flores
        encoded = {"input_ids": [], "labels": []}
        for text, language, translation in batch:  # each row its own source language token
            tokenizer.src_lang, tokenizer.tgt_lang = language, target
            row = tokenizer(text, text_target=translation)
            encoded["input_ids"].append(row["input_ids"])
            encoded["labels"].append(row["labels"])
        inputs = tokenizer.pad({"input_ids": encoded["input_ids"]}, return_tensors="pt")
        labels = tokenizer.pad({"input_ids": encoded["labels"]}, return_tensors="pt")
        return {**inputs, "labels": labels["input_ids"].masked_fill(labels["attention_mask"] == 0, -100)}


class TinyTranslator(L.LightningModule):
    """``M2M100ForConditionalGeneration`` (NLLB's class) of the given size, built once the tokenizer exists.

    Args:
        d_model: hidden size.
        layers: encoder and decoder layers (each).
        heads: attention heads.
        ffn_dim: feed-forward size.
        dropout: dropout in both stacks.
        optim: AdamW with warm-up and cosine decay.
    """

    def __init__(
        self,
        d_model: int = 128,
        layers: int = 2,
        heads: int = 4,
        ffn_dim: int = 256,
        dropout: float = 0.1,
        optim: Optim | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.optim = as_optim(optim)
        self.net = None

    def configure_model(self) -> None:
        """After the data module's setup: its tokenizer sizes the embeddings."""
        if self.net is not None:
            return
        from transformers import M2M100Config, M2M100ForConditionalGeneration

        tokenizer, hp = self.trainer.datamodule.tokenizer, self.hparams
        config = M2M100Config(
            vocab_size=len(tokenizer),
            d_model=hp.d_model,
            encoder_layers=hp.layers,
            decoder_layers=hp.layers,
            encoder_attention_heads=hp.heads,
            decoder_attention_heads=hp.heads,
            encoder_ffn_dim=hp.ffn_dim,
            decoder_ffn_dim=hp.ffn_dim,
            dropout=hp.dropout,
            max_position_embeddings=256,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.eos_token_id,  # as NLLB: </s>, then the target-language token
            scale_embedding=True,
        )
        self.net = M2M100ForConditionalGeneration(config)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.net(**batch).loss
        self.log("train/loss", loss, batch_size=len(batch["labels"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log("val/loss", self.net(**batch).loss, batch_size=len(batch["labels"]), prog_bar=True)

    def configure_optimizers(self):
        groups = decay_groups(list(self.parameters()), self.optim.weight_decay)
        return adamw_warmup_cosine(groups, self.optim, self.trainer)


def save_translator(run: Run) -> Path:
    """The best checkpoint's weights and the tokenizer, as one folder :class:`Translator` loads."""
    parsed = run.parsed
    model, data = parsed.model, parsed.datamodule
    load_best_weights(parsed)
    folder = Path(parsed.run_dir) / FOLDER
    if run.trainer.is_global_zero:
        model.net.save_pretrained(folder)  # safetensors, written whole before the sweep marks the step done
        data.tokenizer.save_pretrained(folder)
    return folder


def dev_scores(folder: Path, data: ParallelTextDataModule, max_new_tokens: int = 64) -> dict:
    """Per source language on dev: exact translations (share) and the character error rate, translated
    by :class:`Translator` from ``folder`` (the path the cascade takes)."""
    translator = Translator(str(folder), target=data.target, max_new_tokens=max_new_tokens, device="cpu")
    pairs = parallel_pairs(data.selection["dev"], data.target)
    refs, hyps, languages = [], [], []
    for language in sorted({s.language for s, _ in pairs}):
        ours = [(s, t) for s, t in pairs if s.language == language]
        hyps += translator.translate([s.text for s, _ in ours], language)
        refs += [t.text for _, t in ours]
        languages += [language] * len(ours)
    scores = error_rates_by_language(refs, hyps, languages)
    for language, part in scores["per_language"].items():
        same = [h == r for h, r, lang in zip(hyps, refs, languages, strict=True) if lang == language]
        part["exact"] = round(sum(same) / len(same), 4)
    return scores


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train_by_dev_loss(TinyTranslator, ParallelTextDataModule, args, fallback=FOLDER)
    folder = save_translator(run)
    if run.trainer.is_global_zero and run.parsed.datamodule.selection["dev"]:
        scores = dev_scores(folder, run.parsed.datamodule)
        atomic_write_json(folder / "dev_scores.json", scores)
        per = ", ".join(f"{k} exact {v['exact']:.2f} cer {v['cer']:.2f}" for k, v in scores["per_language"].items())
        log.warning("%s dev translations: %s", folder, per)
    return run


if __name__ == "__main__":
    entry(main)
