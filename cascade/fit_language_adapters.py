"""Train one language adapter per language by masked-LM: ``python -m cascade.fit_language_adapters -c CONFIG``.

The first half of MAD-X (Pfeiffer et al. 2020; :mod:`cascade.language_adapters` is the second): for each
language of the corpus (or ``data.languages``), a LoRA adapter (peft; a stand-in for MAD-X's bottleneck
adapter, as the ``adapters`` library does not import with transformers 5) on a frozen
``AutoModelForMaskedLM`` base (XLM-R), trained by masked-LM (15 % of the tokens, BERT's 80/10/10 rule) on
the gold texts of the TRAINING split in that language only. Labels are never read, the evaluated splits
never either; each batch holds one language, whose adapter alone is active and trained. The dev split's
MLM loss, per language (masks fixed by a seed, so every check sees the same ones), picks each adapter's
best step.

LightningCLI parses (``--print_config``); the run directory (``--run_dir``) gets the usual ``checkpoints/``
and, at the end, ``language_adapters/<language>/`` (peft ``save_pretrained``: what
:class:`~cascade.language_adapters.LanguageAdapterClassifier` loads from ``adapters: <run_dir>/language_adapters``)
and ``language_adapters/dev_scores.json``: per language, the dev MLM loss before training (the base alone)
and after (the chosen step), and how many training and dev texts there were. A run resumed with ``--ckpt_path``
keeps each language's best check and the losses before training from its checkpoint.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import Dataset

from cascade.language_adapters import ADAPTER_TARGETS
from workbench.data.sources import CorpusSource
from workbench.datamodule import CorpusDataModule
from workbench.distributed import program_scope
from workbench.errors import ConfigError, DataError
from workbench.io import atomic_write_json
from workbench.items import Item
from workbench.languages import resolve
from workbench.lora import LoraSettings, as_lora, lora_config
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups
from workbench.program import Run, entry, train_by_dev_loss
from workbench.protocols import Protocol

log = logging.getLogger(__name__)
FOLDER = "language_adapters"  # in the run directory: what LanguageAdapterClassifier loads
MLM_PROBABILITY = 0.15  # share of tokens masked (BERT's, XLM-R's, MAD-X's)


class MonolingualTexts(Dataset):
    """``(language, gold text)`` per item: labels are not kept."""

    def __init__(self, items: list[Item], languages: list[str]):
        self.rows = [(i.language, i.text) for i in items if i.language in languages and i.text]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[str, str]:
        return self.rows[index]


class OneLanguageBatches:
    """Batches of one language each: positions of ``rows`` by ``batch_size``; shuffled within and across
    languages when training (Python's RNG, seeded by ``seed_everything``), in order else."""

    def __init__(self, rows: list[tuple[str, str]], batch_size: int, shuffle: bool):
        self.by_language = defaultdict(list)
        for k, (language, _) in enumerate(rows):
            self.by_language[language].append(k)
        self.batch_size, self.shuffle = batch_size, shuffle

    def _batches(self) -> list[list[int]]:
        batches = []
        for positions in self.by_language.values():
            positions = random.sample(positions, len(positions)) if self.shuffle else positions
            batches += [positions[k : k + self.batch_size] for k in range(0, len(positions), self.batch_size)]
        return random.sample(batches, len(batches)) if self.shuffle else batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return sum(-(-len(p) // self.batch_size) for p in self.by_language.values())


class MonolingualTextDataModule(CorpusDataModule):
    """Corpus + protocol -> one-language batches of gold texts ``{"language": str, "texts": list[str]}``.

    Args:
        source: the corpus (only its items' texts and languages are read).
        protocol: which items train and validate (``all_languages``: every language's training texts;
            the evaluated splits are never read).
        languages: the languages that get an adapter; None: every language with training text.
        batch_size: texts per batch.
    """

    def __init__(
        self, source: CorpusSource, protocol: Protocol, languages: list[str] | None = None, batch_size: int = 32
    ):
        super().__init__(source, protocol)
        self.wanted = [resolve(language).code for language in languages] if languages else None
        self.batch_size = batch_size
        self.languages: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.languages:
            return
        counts = self.text_counts("train")
        for language in self.wanted or []:
            if not counts.get(language):
                raise DataError(f"language '{language}'", "text", f"no training text (protocol {self.protocol.tag})")
        self.languages = self.wanted or sorted(counts)
        if not self.languages:
            raise DataError(f"protocol {self.protocol.tag}", "text", "no training item has a text")

    def text_counts(self, split: str) -> dict[str, int]:
        """Texts per language in ``split``."""
        counts = defaultdict(int)
        for item in self.selection[split]:
            counts[item.language] += bool(item.text)
        return {language: n for language, n in counts.items() if n}

    def make_dataset(self, items: list[Item], train: bool) -> Dataset:
        return MonolingualTexts(items, self.languages)

    def batch_sampler(self, dataset: Dataset, train: bool):
        return OneLanguageBatches(dataset.rows, self.batch_size, shuffle=train)

    def collate(self, batch: list) -> dict:
        return {"language": batch[0][0], "texts": [text for _, text in batch]}


def add_loss(sums: dict, language: str, loss: torch.Tensor, masked: int) -> None:
    """Add a batch's mean loss over ``masked`` tokens to ``sums[language]`` (``[loss x tokens, tokens]``)."""
    sums[language][0] += float(loss) * masked
    sums[language][1] += masked


def masked_batch(tokenizer, masker, texts: list[str], max_length: int, seed: int | None = None) -> dict:
    """``texts`` tokenized (cut at ``max_length`` tokens) and masked by ``masker`` (a transformers
    ``DataCollatorForLanguageModeling``): ``input_ids``, ``attention_mask`` and ``labels`` (-100 where not masked);
    ``seed`` fixes the masks (dev) without touching training's random stream."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    rows = [{"input_ids": ids} for ids in encoded["input_ids"]]
    if seed is None:
        return masker(rows)
    # not the collator's own seed: it refuses to run in a process multiprocessing started (a sweep worker)
    with torch.random.fork_rng(devices=[]):  # the masks are drawn on the CPU
        torch.manual_seed(seed)
        return masker(rows)


class MaskedLMTraining(L.LightningModule):
    """Masked-LM training on one-language batches (:class:`MonolingualTextDataModule`): the loss over the masked
    tokens, logged as ``train/loss`` and ``val/loss``, and the dev losses of the model before training, which go
    with the checkpoint (a run resumed with ``--ckpt_path`` keeps them). A subclass builds ``net``, ``tokenizer``
    and ``masker``, and may make a language's own part of the model active (:meth:`activate`)."""

    CHECKPOINT_KEY = "masked_lm_training"  # what this class keeps in a checkpoint

    def __init__(self):
        super().__init__()
        self.net = self.tokenizer = self.masker = None
        self.before: dict[str, float] = {}  # dev MLM loss per language before training

    def activate(self, language: str) -> None:
        """Make ``language``'s part of the model active: none here (one model for every language)."""

    def mlm_loss(self, language: str, texts: list[str], seed: int | None = None) -> tuple[torch.Tensor | None, int]:
        """Mean MLM loss over the masked tokens of ``texts`` with ``language``'s part active (:meth:`activate`), and
        how many tokens were masked (None and 0 when a few short texts drew no mask); ``seed`` fixes the masks
        (dev)."""
        batch = masked_batch(self.tokenizer, self.masker, texts, self.hparams.max_length, seed)
        masked = int((batch["labels"] != -100).sum())
        self.activate(language)
        if masked == 0:
            return None, 0
        return self.net(**{k: v.to(self.device) for k, v in batch.items()}).loss, masked

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor | None:
        loss, masked = self.mlm_loss(batch["language"], batch["texts"])
        if masked:  # else None: Lightning skips the step
            self.log("train/loss", loss, batch_size=masked)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, masked = self.mlm_loss(batch["language"], batch["texts"], seed=batch_idx)
        if masked:
            self.dev_loss(batch["language"], loss, masked)
            self.log("val/loss", loss, batch_size=masked, prog_bar=True)  # the mean over masked tokens

    def dev_loss(self, language: str, loss: torch.Tensor, masked: int) -> None:
        """A dev batch's loss in ``language`` (a mean over ``masked`` tokens): not kept here."""

    def on_train_start(self) -> None:
        if not self.before:  # a resumed run keeps the losses before training from its checkpoint
            self.before = dev_mlm_losses(self, self.trainer.datamodule.val_dataloader())

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[self.CHECKPOINT_KEY] = {"before": dict(self.before)}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.before = dict(checkpoint.get(self.CHECKPOINT_KEY, {}).get("before", {}))


class MaskedLMAdapters(MaskedLMTraining):
    """A frozen masked LM with one LoRA adapter per language of the data, built once the data is set up.

    Args:
        model: hub id (``FacebookAI/xlm-roberta-base``) or local folder of a masked LM.
        lora: each adapter's LoRA (targets default: :data:`cascade.language_adapters.ADAPTER_TARGETS`).
        mlm_probability: share of tokens masked.
        max_length: tokens per text (longer texts are truncated).
        revision: hub revision of ``model``.
        optim: AdamW with warm-up and cosine decay.
    """

    def __init__(
        self,
        model: str = "FacebookAI/xlm-roberta-base",
        lora: LoraSettings | None = None,
        mlm_probability: float = MLM_PROBABILITY,
        max_length: int = 128,
        revision: str | None = None,
        optim: Optim | None = None,
    ):
        super().__init__()
        from transformers import AutoTokenizer, DataCollatorForLanguageModeling

        self.save_hyperparameters()
        self.optim, self.lora = as_optim(optim), as_lora(lora)
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
        self.masker = DataCollatorForLanguageModeling(self.tokenizer, mlm_probability=mlm_probability)
        self.best: dict[str, tuple[float, dict]] = {}  # language -> (dev loss, its adapter's weights then)
        self._dev = defaultdict(lambda: [0.0, 0])  # language -> [loss x masked tokens, masked tokens]

    def configure_model(self) -> None:
        """After the data module's setup: one adapter per language it trains."""
        if self.net is not None:
            return
        from peft import get_peft_model
        from transformers import AutoModelForMaskedLM

        hp = self.hparams
        config = lora_config(self.lora, list(self.lora.target_modules or ADAPTER_TARGETS))
        first, *rest = self.trainer.datamodule.languages
        base = AutoModelForMaskedLM.from_pretrained(hp.model, revision=hp.revision)
        self.net = get_peft_model(base, config, adapter_name=first)  # the base frozen
        for language in rest:
            self.net.add_adapter(language, config)

    def activate(self, language: str) -> None:
        """``language``'s adapter alone active (and trainable)."""
        self.net.base_model.set_adapter(language)

    def dev_loss(self, language: str, loss: torch.Tensor, masked: int) -> None:
        add_loss(self._dev, language, loss, masked)

    def on_validation_epoch_start(self) -> None:
        self._dev.clear()

    def on_validation_epoch_end(self) -> None:
        """Keep each language's adapter at its lowest dev loss so far (not while Lightning's sanity check runs)."""
        if self.trainer.sanity_checking:
            return
        from peft import get_peft_model_state_dict

        for language, loss in self.dev_means(self._dev).items():
            if language not in self.best or loss < self.best[language][0]:
                weights = get_peft_model_state_dict(self.net, adapter_name=language)
                self.best[language] = (loss, {k: v.detach().clone() for k, v in weights.items()})

    @staticmethod
    def dev_means(sums: dict) -> dict[str, float]:
        return {language: total / n for language, (total, n) in sorted(sums.items()) if n}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Each language's best dev check goes with the checkpoint too, so that a run resumed from it still writes
        each adapter at its best step."""
        super().on_save_checkpoint(checkpoint)
        checkpoint[self.CHECKPOINT_KEY]["best"] = dict(self.best)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self.best = dict(checkpoint.get(self.CHECKPOINT_KEY, {}).get("best", {}))

    def keep_best(self) -> None:
        """Each language's adapter back to its best dev step (unchanged where no check ran)."""
        from peft import set_peft_model_state_dict

        for language, (_, weights) in self.best.items():
            set_peft_model_state_dict(self.net, weights, adapter_name=language)

    def configure_optimizers(self):
        adapters = [p for n, p in self.net.named_parameters() if "lora_" in n]  # one language's trains per step
        return adamw_warmup_cosine(decay_groups(adapters, self.optim.weight_decay), self.optim, self.trainer)


@torch.no_grad()
def dev_mlm_losses(model: L.LightningModule, loader) -> dict[str, float]:
    """Dev MLM loss per language of ``model`` (its ``mlm_loss(language, texts, seed)``), with the masks of every
    validation (same batches, same seeds), in eval mode."""
    was_training, sums = model.training, defaultdict(lambda: [0.0, 0])
    model.eval()
    for batch_idx, batch in enumerate(loader):
        loss, masked = model.mlm_loss(batch["language"], batch["texts"], seed=batch_idx)
        if masked:
            add_loss(sums, batch["language"], loss, masked)
    model.train(was_training)
    return MaskedLMAdapters.dev_means(sums)


def save_adapters(run: Run) -> Path:
    """Each language's adapter at its best dev step as ``<run_dir>/language_adapters/<language>/``, and
    ``dev_scores.json`` beside them."""
    model, data = run.model, run.datamodule
    if model.net is None:
        raise ConfigError("--fit: false trains no adapter, so there are none to write")
    folder = Path(run.parsed.run_dir) / FOLDER
    model.to(run.trainer.strategy.root_device)  # Lightning's teardown left it on the CPU: score dev where it trained
    model.keep_best()
    model.net.save_pretrained(folder)  # peft: an adapter not named "default" goes to <folder>/<its name>/
    write_dev_scores(folder, data, model.before, dev_mlm_losses(model, data.val_dataloader()))
    return folder


def write_dev_scores(folder: Path, data: MonolingualTextDataModule, before: dict, after: dict) -> dict:
    """``<folder>/dev_scores.json`` (and one log line): per language of ``data``, the dev MLM loss ``before`` and
    ``after`` training, and how many training and dev texts there were."""
    train, dev = data.text_counts("train"), data.text_counts(data.fit_dev_split)
    scores = {
        language: {
            "before": round(before[language], 4) if language in before else None,
            "after": round(after[language], 4) if language in after else None,
            "train_texts": train.get(language, 0),
            "dev_texts": dev.get(language, 0),
        }
        for language in data.languages
    }
    atomic_write_json(folder / "dev_scores.json", scores)
    per = ", ".join(f"{k} {v['before']} -> {v['after']}" for k, v in scores.items())
    log.warning("%s dev MLM loss (before -> after): %s", folder, per)
    return scores


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train_by_dev_loss(MaskedLMAdapters, MonolingualTextDataModule, args, fallback=FOLDER)
    if run.trainer.is_global_zero:
        save_adapters(run)
    return run


if __name__ == "__main__":
    entry(main)
