"""Text models the cascade classifies with, passed to :class:`~cascade.classifier.TextClassifier` by ``class_path``.

- :class:`CharNgramModel`: from scratch, fastText-like: hashed character 1-4-grams and
  words -> mean of a sparse EmbeddingBag -> linear. Trains in seconds on CPU; the
  embedded default's classifier.
- :class:`HFSequenceClassifier`: any ``transformers`` sequence-classification model by hub
  id or local path (XLM-R, Glot500, mBERT), fine-tuned whole.

Both take raw strings, so a transcript, a romanization and a gold text go through the
same code; each tokenises inside ``forward`` (its tokenisation is part of the model).
"""

from __future__ import annotations

import functools
import zlib
from abc import abstractmethod

import torch
from torch import nn

from cascade.asr_text import normalize


class TextModel(nn.Module):
    """Strings -> class logits. ``build(num_classes, label_names)`` is called once, before training."""

    @abstractmethod
    def build(self, num_classes: int, label_names: list[str] | None = None) -> None:
        """Size the model's output; ``label_names`` (the data's, in label order) for models that read them."""

    @abstractmethod
    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        """``len(texts)`` strings -> logits ``(B, num_classes)``; ``languages``: each text's language code
        (items' ``language``), read by models with per-language parts (language adapters), else ignored."""

    @abstractmethod
    def make_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]: ...


def ngram_ids(text: str, num_buckets: int, min_n: int = 1, max_n: int = 4, words: bool = True) -> list[int]:
    """Hashed features of one text: character n-grams of ``<word>`` and whole words.

    crc32, not Python's ``hash`` (salted per process), so ids are stable across runs.

    Example:
        >>> len(ngram_ids("ab", 1 << 18, 1, 2))  # <, a, b, >, <a, ab, b>, word "ab"
        8
    """
    ids = []
    for word in normalize(text).split():
        padded = f"<{word}>"
        for n in range(min_n, max_n + 1):
            for i in range(len(padded) - n + 1):
                ids.append(zlib.crc32(padded[i : i + n].encode("utf-8")) % num_buckets)
        if words:
            ids.append(zlib.crc32(f"w:{word}".encode()) % num_buckets)
    return ids


@functools.lru_cache(maxsize=1 << 16)
def cached_ngram_ids(text: str, num_buckets: int, min_n: int, max_n: int, words: bool) -> tuple[int, ...]:
    """:func:`ngram_ids`, remembered: a training run hashes the same texts every epoch (hashing was
    ~8 % of a cascade point's CPU under cProfile)."""
    return tuple(ngram_ids(text, num_buckets, min_n, max_n, words))


class CharNgramModel(TextModel):
    """Hashed character n-grams + words -> EmbeddingBag (mean, sparse) -> dropout -> linear.

    Args:
        num_buckets: hash buckets (rows of the embedding table).
        dim: embedding width.
        min_n: shortest character n-gram.
        max_n: longest character n-gram.
        words: add whole-word features.
        init_scale: embeddings start uniform in ``(-init_scale, init_scale)``. Rows never
            seen in training keep it, so a small value keeps unseen n-grams (e.g. of an
            unseen language) from adding noise: it mattered for zero-shot transfer.
        dropout: on the pooled embedding.
        dense_lr_scale: learning rate of the output layer relative to the embeddings'.

    Sparse gradients with ``SparseAdam`` touch only the rows in a batch; dense Adam over
    2^18 x 64 rows took minutes per run.
    """

    def __init__(
        self,
        num_buckets: int = 1 << 18,
        dim: int = 64,
        min_n: int = 1,
        max_n: int = 4,
        words: bool = True,
        init_scale: float = 1e-3,
        dropout: float = 0.1,
        dense_lr_scale: float = 1.0,
    ):
        super().__init__()
        self.num_buckets, self.min_n, self.max_n, self.words = num_buckets, min_n, max_n, words
        self.dense_lr_scale = dense_lr_scale
        self.embedding = nn.EmbeddingBag(num_buckets, dim, mode="mean", sparse=True)
        nn.init.uniform_(self.embedding.weight, -init_scale, init_scale)
        self.dropout = nn.Dropout(dropout)
        self.dim = dim
        self.head: nn.Linear | None = None

    def build(self, num_classes: int, label_names: list[str] | None = None) -> None:
        if self.head is None or self.head.out_features != num_classes:
            self.head = nn.Linear(self.dim, num_classes)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat ids ``(N,)`` and bag offsets ``(B,)`` for EmbeddingBag."""
        flat, offsets = [], []
        for text in texts:
            offsets.append(len(flat))
            ids = cached_ngram_ids(text, self.num_buckets, self.min_n, self.max_n, self.words)
            flat.extend(ids or (0,))  # an empty transcript still needs one row: bucket 0
        return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)

    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        ids, offsets = self.encode(texts)
        device = self.embedding.weight.device
        pooled = self.embedding(ids.to(device), offsets.to(device))  # (B, D)
        return self.head(self.dropout(pooled))

    def make_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        return [
            torch.optim.SparseAdam(list(self.embedding.parameters()), lr=lr),
            torch.optim.AdamW(self.head.parameters(), lr=lr * self.dense_lr_scale, weight_decay=weight_decay),
        ]


class HFSequenceClassifier(TextModel):
    """A ``transformers`` AutoModelForSequenceClassification + its tokenizer.

    Args:
        model: hub id (``FacebookAI/xlm-roberta-base``, ``cis-lmu/glot500-base``,
            ``google-bert/bert-base-multilingual-cased``) or local folder.
        max_length: tokens per text (longer texts are truncated).
        revision: hub revision.
    """

    def __init__(self, model: str = "FacebookAI/xlm-roberta-base", max_length: int = 128, revision: str | None = None):
        super().__init__()
        self.name, self.max_length, self.revision = model, max_length, revision
        self.model = None
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)

    def build(self, num_classes: int, label_names: list[str] | None = None) -> None:
        if self.model is not None:
            return
        from transformers import AutoModelForSequenceClassification

        # a checkpoint fine-tuned for other classes gets a fresh head of our size
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.name, num_labels=num_classes, revision=self.revision, ignore_mismatched_sizes=True
        )

    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        device = next(self.model.parameters()).device
        batch = self.tokenizer(
            [t or "" for t in texts], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return self.model(**{k: v.to(device) for k, v in batch.items()}).logits

    def make_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        decay = [p for n, p in self.model.named_parameters() if p.ndim > 1]
        rest = [p for n, p in self.model.named_parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
        return [torch.optim.AdamW(groups, lr=lr)]
