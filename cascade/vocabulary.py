"""Subword vocabularies learnt here with ``tokenizers``, for the stand-ins the embedded sweep trains from scratch:
the real model's tokenizer class (NLLB's, XLM-R's) over a vocabulary of this corpus, each text split as
sentencepiece splits it (Metaspace: ``▁`` starts every word)."""

from __future__ import annotations

from typing import Literal

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # ids 0-3 in NLLB and XLM-R alike: bos, pad, eos, unk


def learn_subwords(
    texts: list[str], vocab_size: int, kind: Literal["bpe", "unigram"], specials: list[str], normalizer=None
):
    """A ``tokenizers.Tokenizer`` whose subword model is learnt from ``texts`` (each put through ``normalizer`` first,
    if one is given, and kept in the tokenizer): BPE, NLLB's kind, or unigram, XLM-R's; ``specials`` its first pieces
    in order. Its model as JSON (``vocab``, and ``merges`` for BPE): ``json.loads(tokenizer.to_str())["model"]``. A
    unigram vocabulary may come out smaller than ``vocab_size`` on a small corpus."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials)
    else:
        tokenizer = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer
