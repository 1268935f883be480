"""Pretrain a tiny masked LM on the corpus' own texts: ``python -m cascade.fit_masked_lm -c CONFIG``.

A STAND-IN for XLM-R where none can be downloaded (the offline embedded sweep): XLM-R's architecture class
(``XLMRobertaForMaskedLM``) at tiny dimensions, with XLM-R's kind of tokenizer (a unigram vocabulary, XLM-R's
special tokens) learnt here with ``tokenizers`` (:mod:`cascade.vocabulary`) over text in the recognizer's
transcript form (lowercase, no punctuation: gold text and its transcript tokenize alike), both trained from
scratch by masked-LM (15 % of the tokens, BERT's 80/10/10 rule) on the gold texts of the TRAINING split, every
language's. Labels are never read, the evaluated splits never either; the dev split's MLM loss (masks fixed by
a seed) picks the checkpoint. Batches hold one language each, as the language adapters' (the data module and
masking of :mod:`cascade.fit_language_adapters`). It has seen 4800 short texts, not CommonCrawl: a system on it is
labelled a stand-in (``-standin``), never passed off as XLM-R.

LightningCLI parses (``--print_config``); the run directory (``--run_dir``) gets the usual ``checkpoints/``
and, at the end, ``masked_lm/``: the best weights and the tokenizer as ``save_pretrained`` folders, loaded
like a hub id by :mod:`cascade.fit_language_adapters` (``--model.model <run_dir>/masked_lm``),
:class:`~cascade.language_adapters.LanguageAdapterClassifier` and
:class:`~cascade.text_models.HFSequenceClassifier` (``model: <run_dir>/masked_lm``), and
``masked_lm/dev_scores.json``: per language, the dev MLM loss of the random start and of the kept
checkpoint, and how many training and dev texts there were.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cascade.fit_language_adapters import (
    MLM_PROBABILITY,
    MaskedLMTraining,
    MonolingualTextDataModule,
    dev_mlm_losses,
    write_dev_scores,
)
from cascade.vocabulary import SPECIALS, learn_subwords
from workbench.data.sources import CorpusSource
from workbench.distributed import program_scope
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups
from workbench.program import Run, entry, load_best_weights, train_by_dev_loss
from workbench.protocols import Protocol

log = logging.getLogger(__name__)
FOLDER = "masked_lm"  # in the run directory: what the language adapters and the classifiers load
MASK = "<mask>"  # XLM-R's mask token, the vocabulary's fifth special piece


def transcript_form():
    """:func:`cascade.asr_text.normalize` as a ``tokenizers`` normalizer: NFC, lowercase, every run of characters other
    than letters, marks and digits one space, stripped. The form of the recognizer's transcripts, which the classifier
    reads at test after training on gold text: in it, gold text and a transcript of it tokenize alike."""
    from tokenizers import Regex, normalizers

    other = normalizers.Replace(Regex(r"[^\p{L}\p{M}\p{N}]+"), " ")
    return normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase(), other, normalizers.Strip()])


def train_tokenizer(texts: list[str], vocab_size: int):
    """XLM-R's tokenizer at this corpus' scale: a unigram vocabulary learnt from ``texts`` in :func:`transcript_form`,
    XLM-R's special tokens (ids 0-3 as XLM-R's) and its ``<s> text </s>``. A ``PreTrainedTokenizerFast``, not
    ``XLMRobertaTokenizer``: transformers rebuilds that class without its normalizer when it loads it."""
    from tokenizers import decoders, processors
    from transformers import PreTrainedTokenizerFast

    tokenizer = learn_subwords(texts, vocab_size, "unigram", [*SPECIALS, MASK], transcript_form())
    bos, pad, eos, unk = SPECIALS
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tokenizer.token_to_id(bos)), (eos, tokenizer.token_to_id(eos))],
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        cls_token=bos,
        eos_token=eos,
        sep_token=eos,
        pad_token=pad,
        unk_token=unk,
        mask_token=MASK,
    )


class PretrainingTextDataModule(MonolingualTextDataModule):
    """Corpus + protocol -> one-language batches of gold texts (:class:`MonolingualTextDataModule`); learns the
    tokenizer from the training texts of the languages it reads.

    Args:
        source: the corpus (only its items' texts and languages are read).
        protocol: which items train and validate (``all_languages``: every language's training texts;
            the evaluated splits are never read).
        languages: the languages read; None: every language with training text.
        vocab_size: the unigram vocabulary learnt from the training texts (at most; XLM-R's 5 specials included).
        batch_size: texts per batch.
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        languages: list[str] | None = None,
        vocab_size: int = 4000,
        batch_size: int = 64,
    ):
        super().__init__(source, protocol, languages, batch_size)
        self.vocab_size = vocab_size
        self.tokenizer = None

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.tokenizer is None:
            texts = [i.text for i in self.selection["train"] if i.language in self.languages and i.text]
            self.tokenizer = train_tokenizer(texts, self.vocab_size)


class TinyMaskedLM(MaskedLMTraining):
    """``XLMRobertaForMaskedLM`` (XLM-R's class) of the given size, built once the tokenizer exists.

    Args:
        hidden_size: hidden size.
        layers: transformer layers.
        heads: attention heads.
        intermediate_size: feed-forward size.
        dropout: dropout of the hidden states and of the attention.
        max_length: tokens per text (longer texts are truncated); sizes the position embeddings.
        mlm_probability: share of tokens masked.
        optim: AdamW with warm-up and cosine decay.
    """

    def __init__(
        self,
        hidden_size: int = 128,
        layers: int = 4,
        heads: int = 4,
        intermediate_size: int = 512,
        dropout: float = 0.1,
        max_length: int = 64,
        mlm_probability: float = MLM_PROBABILITY,
        optim: Optim | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.optim = as_optim(optim)

    def configure_model(self) -> None:
        """After the data module's setup: its tokenizer sizes the embeddings."""
        if self.net is not None:
            return
        from transformers import DataCollatorForLanguageModeling, XLMRobertaConfig, XLMRobertaForMaskedLM

        hp, tokenizer = self.hparams, self.trainer.datamodule.tokenizer
        self.tokenizer = tokenizer
        self.masker = DataCollatorForLanguageModeling(tokenizer, mlm_probability=hp.mlm_probability)
        config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            hidden_size=hp.hidden_size,
            num_hidden_layers=hp.layers,
            num_attention_heads=hp.heads,
            intermediate_size=hp.intermediate_size,
            hidden_dropout_prob=hp.dropout,
            attention_probs_dropout_prob=hp.dropout,
            max_position_embeddings=hp.max_length + 2,  # XLM-R's positions start after the padding id (1)
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=True,  # as XLM-R's: the MLM head's output is the input embedding
        )
        self.net = XLMRobertaForMaskedLM(config)

    def configure_optimizers(self):
        groups = decay_groups(list(self.parameters()), self.optim.weight_decay)
        return adamw_warmup_cosine(groups, self.optim, self.trainer)


def save_masked_lm(run: Run) -> Path:
    """The best checkpoint's weights and the tokenizer as one ``save_pretrained`` folder, and ``dev_scores.json``
    beside them."""
    parsed = run.parsed
    model, data = parsed.model, parsed.datamodule
    load_best_weights(parsed)
    folder = Path(parsed.run_dir) / FOLDER
    model.net.save_pretrained(folder)  # safetensors, written whole before the sweep marks the step done
    data.tokenizer.save_pretrained(folder)
    model.to(run.trainer.strategy.root_device)  # Lightning's teardown left it on the CPU: score dev where it trained
    write_dev_scores(folder, data, model.before, dev_mlm_losses(model, data.val_dataloader()))
    return folder


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train_by_dev_loss(TinyMaskedLM, PretrainingTextDataModule, args, fallback=FOLDER)
    if run.trainer.is_global_zero:
        save_masked_lm(run)
    return run


if __name__ == "__main__":
    entry(main)
