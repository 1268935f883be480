"""What a vision model travels with: :class:`ClipBundle`, the byte tokenizer and the PIXEL name prefix.

Its own module, importing nothing from its neighbours, so that :mod:`vision.model` (open_clip
models) and :mod:`vision.pixel` (PIXEL towers) can both import it at the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PIXEL_PREFIX = "hf-pixel:"  # a PIXEL-family encoder by hub id or folder (vision.pixel)


class ByteTokenizer:
    """UTF-8 bytes as tokens: every script is covered and shares nothing it does not share in bytes.

    For small text towers trained from scratch: open_clip's default BPE turns most English
    words into one token each, so a tower trained on ``two`` learns nothing about ``dos``
    or ``dva``; on bytes, spellings that share letters share tokens. Ids: 0 pad, 1..256 the
    byte values + 1, 257 start, 258 end (the highest id, so open_clip's ``argmax`` text
    pooling lands on the end token, as with its own tokenizer). ``vocab_size`` = 259.

    Example:
        >>> ByteTokenizer(context_length=6)(["ab"]).tolist()
        [[257, 98, 99, 258, 0, 0]]
    """

    VOCAB_SIZE = 259
    START, END = 257, 258

    def __init__(self, context_length: int = 32):
        self.context_length = context_length

    def __call__(self, texts: str | list[str], context_length: int | None = None) -> torch.Tensor:
        """Texts -> LongTensor ``[n, context_length]`` (truncated, end token kept)."""
        length = context_length or self.context_length
        texts = [texts] if isinstance(texts, str) else texts
        out = torch.zeros(len(texts), length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.START] + [b + 1 for b in text.encode("utf-8")][: length - 2] + [self.END]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


@dataclass
class ClipBundle:
    """A model with what must travel with it: its transforms, tokenizer and configs."""

    model: torch.nn.Module
    preprocess_train: object  # callable PIL image -> FloatTensor [3, H, W]
    preprocess_val: object
    tokenizer: object  # callable list[str] -> LongTensor [n, context_length]
    model_cfg: dict | None
    preprocess_cfg: dict
