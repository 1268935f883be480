"""The report's statistics where the contract is a property.

- The pooled zero-shot test and its interval treat a content (``content_id``) as the unit:
  duplicating every content's items into more languages adds no evidence, so neither the
  p-value nor the interval may change (an item-level resampling would shrink both).
- ECE is ``sum_b n_b / N * |accuracy_b - confidence_b|`` over equal-width bins: checked against
  a slow, literal implementation on random inputs with confidences spread over many bins
  (every report fixture has one confidence per system and language, where any binning agrees).
- The temperature is fitted on a run's dev predictions, never on its test predictions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.report.calibration import BINS, ece, fit_temperature, reliability, temperatures
from workbench.report.compare import pooled_row

SHARES = [0.0, 0.5, 1.0]  # share of seeds right on an item (1 or 2 seeds)


@st.composite
def paired_targets(draw) -> pd.DataFrame:
    """Paired zero-shot target items: contents in 1-3 languages, each with E2E and CA shares."""
    contents = draw(st.integers(1, 20))
    rows = []
    for content in range(contents):
        for language in draw(st.lists(st.sampled_from(["rus", "tha", "hin"]), min_size=1, unique=True)):
            e2e, ca = draw(st.sampled_from(SHARES)), draw(st.sampled_from(SHARES))
            rows.append({"id": f"{language}-{content}", "content_id": f"v{content}", "language": language,
                         "group": "zero_shot", "share_e2e": e2e, "share_ca": ca, "d": e2e - ca})  # fmt: skip
    return pd.DataFrame(rows)


def duplicated_across_languages(targets: pd.DataFrame) -> pd.DataFrame:
    """Every item once more, in a language of its own: the same contents, twice the items."""
    copy = targets.assign(language=targets["language"] + "-copy", id=targets["id"] + "-copy")
    return pd.concat([targets, copy], ignore_index=True)


@settings(max_examples=40)  # each example runs two bootstraps and two permutation tests
@given(paired_targets())
def test_pooled_test_and_interval_are_invariant_to_duplicating_contents_across_languages(targets):
    once = pooled_row(targets, {}, "all")
    twice = pooled_row(duplicated_across_languages(targets), {}, "all")
    assert twice["n"] == 2 * once["n"] and twice["contents"] == once["contents"]
    for key in ("diff", "ci_low", "ci_high", "p"):
        assert twice[key] == once[key], key


def test_pooled_interval_resamples_contents_not_items():
    """Hand-checkable: 4 contents, each in 3 languages, E2E right on every item of one content only.
    Resampling contents, the mean is k/4 with k ~ Binomial(4, 1/4): interval [0, 0.75]; resampling
    the 12 items would give [0, 0.5]."""
    rows = [
        {
            "id": f"{lang}-{c}",
            "content_id": f"v{c}",
            "language": lang,
            "group": "zero_shot",
            "share_e2e": float(c == 0),
            "share_ca": 0.0,
            "d": float(c == 0),
        }  # fmt: skip
        for c in range(4)
        for lang in ("rus", "tha", "hin")
    ]
    row = pooled_row(pd.DataFrame(rows), {}, "all")
    assert (row["ci_low"], row["ci_high"]) == (0.0, 0.75)
    assert row["p"] == 1.0  # one informative content (3 items): flipping it is always as extreme


# -- ECE -------------------------------------------------------------------------------------------
def slow_ece(confidence: list[float], correct: list[int], bins: int = BINS) -> float:
    """The definition, item by item: bin b holds confidences in ``(b/bins, (b+1)/bins]`` (0 in bin 0)."""
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [k for k, c in enumerate(confidence) if low < c <= high or (b == 0 and c == 0)]
        if members:
            accuracy = sum(correct[k] for k in members) / len(members)
            mean_confidence = sum(confidence[k] for k in members) / len(members)
            total += len(members) / len(confidence) * abs(accuracy - mean_confidence)
    return total


# confidences inside a bin, away from its edges (where float rounding decides the bin)
confidences = st.builds(lambda b, f: (b + f) / BINS, st.integers(0, BINS - 1), st.floats(0.01, 0.99))


@settings(max_examples=80)
@given(st.lists(st.tuples(confidences, st.integers(0, 1)), min_size=1, max_size=60))
def test_ece_equals_the_definition_on_random_inputs(pairs):
    confidence, correct = [c for c, _ in pairs], [y for _, y in pairs]
    assert ece(confidence, correct) == pytest.approx(slow_ece(confidence, correct), abs=2e-6)
    table = reliability(confidence, correct)
    assert table["n"].sum() == len(pairs) and (table["low"] < table["confidence"]).all()


def test_ece_weighs_bins_by_their_items_and_keeps_edges():
    # 3 items said 0.9 (all right), 1 item said 0.3 (wrong): (3 * 0.1 + 1 * 0.3) / 4
    assert ece([0.9, 0.9, 0.9, 0.3], [1, 1, 1, 0]) == pytest.approx(0.15)
    assert ece([1.0, 0.0], [1, 0]) == 0.0  # the edges belong to the first and the last bin
    assert math.isnan(ece([], []))


# -- temperature: fitted on dev --------------------------------------------------------------------
def predictions(split: str, correct: list[bool], confidence: float) -> list[dict]:
    rows = []
    for k, right in enumerate(correct):
        label, pred = k % 3, k % 3 if right else (k + 1) % 3
        probs = [confidence if c == pred else (1 - confidence) / 2 for c in range(3)]
        rows.append({"run_dir": "run", "split": split, "probs": probs, "label": label})
    return rows


def test_the_temperature_is_fitted_on_dev_not_on_test():
    dev = predictions("dev", [True] * 6 + [False] * 6, 0.9)  # over-confident on dev: T > 1
    test = predictions("test", [True] * 11 + [False], 0.6)  # under-confident on test: T < 1
    items = pd.DataFrame(dev + test)
    fitted = temperatures(items)["run"]
    on_dev = fit_temperature([r["probs"] for r in dev], [r["label"] for r in dev])
    on_test = fit_temperature([r["probs"] for r in test], [r["label"] for r in test])
    assert fitted == pytest.approx(on_dev) and on_dev > 1 > on_test
    no_dev = temperatures(pd.DataFrame(test))
    assert np.isnan(no_dev["run"])  # no dev predictions: no temperature, never one fitted on test
