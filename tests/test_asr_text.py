"""cascade.asr_text at its edges: a missing transcript is empty text, no references give no rate
(NaN, n = 0), the overall rate pools every language's edits, and a batch whose lengths do not
match its rows is refused (issue 26)."""

from __future__ import annotations

import math

import pytest
import torch

from cascade.asr_text import Vocabulary, error_rates, error_rates_by_language, normalize


def test_a_missing_transcript_is_empty_text():
    """A recognizer that returned nothing (None or "") is scored as all deletions, not as some text."""
    assert normalize(None) == normalize("") == ""
    assert error_rates(["ab"], [None])["cer"] == 1.0


def test_no_references_give_no_rate_not_a_zero():
    empty = error_rates([], [])
    assert set(empty) == {"cer", "wer", "n"} and empty["n"] == 0
    assert math.isnan(empty["cer"]) and math.isnan(empty["wer"])


def test_the_overall_rate_pools_every_languages_edits():
    # eng: 2 deletions over 4 characters, rus: none over 2; pooled 2 / 6, not a mean of the rates
    scores = error_rates_by_language(["abcd", "ab"], ["ab", "ab"], ["eng", "rus"])
    assert scores["overall"] == {"cer": pytest.approx(2 / 6, abs=1e-6), "wer": 0.5, "n": 2}
    assert scores["per_language"]["eng"]["cer"] == 0.5 and scores["per_language"]["rus"]["cer"] == 0.0


def test_greedy_decoding_refuses_lengths_that_do_not_match_the_batch():
    """A length per row: with one missing, zip would drop the last row's transcript silently and
    every later transcript would be paired with the wrong item."""
    vocabulary = Vocabulary(["a", "b"])
    logits = torch.nn.functional.one_hot(torch.tensor([[1, 2], [2, 1]]), 3).float()
    assert vocabulary.greedy_decode(logits, torch.tensor([2, 2])) == ["ab", "ba"]
    with pytest.raises(ValueError):
        vocabulary.greedy_decode(logits, torch.tensor([2]))
