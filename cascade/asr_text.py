"""Transcript text for recognizers: normalisation, character vocabularies, CER/WER.

Targets and references are normalised the same way (NFC, lowercase, letters / combining
marks / digits kept, everything else a word boundary), so a recognizer is scored on what it
can hear, not on punctuation; a missing accent is an error. The romanized (uroman) targets
of the embedded default come out as 26 letters + space (+ CTC blank = 28 symbols); the native ones as a few hundred.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import torch

BLANK = "<b>"  # CTC blank, index 0
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase (NFC), keep letters, combining marks and digits; the rest separates words.

    Example:
        >>> normalize("March, July -- May!")
        'march july may'
    """
    text = unicodedata.normalize("NFC", text or "").lower()
    kept = [ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text]
    return _SPACES.sub(" ", "".join(kept)).strip()


class Vocabulary:
    """Characters <-> CTC ids; id 0 is the blank. Unknown characters are dropped from targets.

    Args:
        symbols: the characters (without the blank), in id order from 1.
    """

    def __init__(self, symbols: Sequence[str]):
        self.symbols = [BLANK, *symbols]
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """Every character of the (normalised) texts, sorted: deterministic across runs."""
        chars = set()
        for text in texts:
            chars.update(normalize(text))
        return cls(sorted(chars))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        return [self.index[ch] for ch in normalize(text) if ch in self.index]

    def decode_ids(self, ids: Iterable[int]) -> str:
        return "".join(self.symbols[i] for i in ids if i > 0)

    def greedy_decode(self, logits: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Best-path CTC decoding: argmax per frame, merge repeats, drop blanks.

        Args:
            logits: ``(B, F, V)``.
            lengths: ``(B,)`` valid frames.
        """
        best = logits.argmax(-1).cpu()
        texts = []
        for row, n in zip(best, lengths.cpu().tolist(), strict=True):
            ids = row[:n]
            if len(ids):
                keep = torch.ones_like(ids, dtype=torch.bool)
                keep[1:] = ids[1:] != ids[:-1]
                ids = ids[keep]
            texts.append(_SPACES.sub(" ", self.decode_ids(ids.tolist())).strip())
        return texts


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> dict:
    """``{"cer", "wer", "n"}`` over normalised texts (torchmetrics CharErrorRate/WordErrorRate).

    WER counts space-separated words: for a language written without spaces between words (Thai,
    :func:`workbench.languages.written_without_spaces`) it is close to a phrase error rate, which the
    report says; CER is the measure to read there.
    """
    from torchmetrics.text import CharErrorRate, WordErrorRate

    if not references:
        return {"cer": float("nan"), "wer": float("nan"), "n": 0}
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    return {
        "cer": round(float(CharErrorRate()(hyps, refs)), 6),
        "wer": round(float(WordErrorRate()(hyps, refs)), 6),
        "n": len(refs),
    }


def error_rates_by_language(references: Sequence[str], hypotheses: Sequence[str], languages: Sequence[str]) -> dict:
    """``{"overall": {cer, wer, n}, "per_language": {lang: {cer, wer, n}}}``."""
    out = {"overall": error_rates(references, hypotheses), "per_language": {}}
    for lang in sorted(set(languages)):
        idx = [i for i, x in enumerate(languages) if x == lang]
        out["per_language"][lang] = error_rates([references[i] for i in idx], [hypotheses[i] for i in idx])
    return out
