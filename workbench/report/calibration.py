"""Calibration: temperature scaling fitted on dev predictions, ECE and reliability bins.

The hybrid weighs each system by its confidence, and any selective use of a system
(answer only when sure) trusts its probabilities; both need calibrated ones. Each run gets
one temperature ``T`` fitted on its own ``dev`` predictions (minimum negative
log-likelihood of ``softmax(log p / T)``); ``probs_cal`` are its test probabilities
rescaled with it. A run without dev predictions keeps ``T = NaN`` and no calibrated
probabilities: the report then shows it raw only and says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

BINS = 15  # equal-width confidence bins for ECE and the reliability diagram
EPS = 1e-12
LOG_T_BOUNDS = (-4.0, 4.0)  # the search interval of log T: T from 0.018 to 54.6
AT_BOUND = 1e-3  # a fitted log T this close to a bound stopped there: the optimum may lie beyond it


def _log_probs(probs) -> np.ndarray:
    return np.log(np.clip(np.asarray(list(probs), dtype=float), EPS, 1.0))


def scale(probs, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row-wise: ``(n, K)``. Log-probabilities are logits up to a constant."""
    z = _log_probs(probs) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(probs, labels):
    """The NLL of the labels under ``softmax(log p / exp(log_t))``, as a function of ``log_t``."""
    log_p = _log_probs(probs)
    labels = np.asarray(labels, dtype=int)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        z = log_p / math.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_softmax[rows, labels].mean())

    return nll


def fit_temperature(probs, labels) -> float:
    """The temperature minimising the NLL of the labels (searched on log T in ``LOG_T_BOUNDS``).

    A fit that ends at a bound (:func:`stopped_at_bound`: e.g. dev predictions all right, so ever sharper
    probabilities keep lowering the NLL) is named in the report's "Check these runs".
    """
    return float(math.exp(minimize_scalar(_nll(probs, labels), bounds=LOG_T_BOUNDS, method="bounded").x))


def stopped_at_bound(probs, labels, temperature: float) -> bool:
    """Whether a fitted temperature sits at an end of its search interval, or the NLL is as low at that end
    as at the fit (a monotone NLL whose optimum lies beyond the interval: the fit stopped where it went flat).

    Example:
        >>> probs = [[0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.7, 0.3]]
        >>> stopped_at_bound(probs, [0, 1, 0, 0], fit_temperature(probs, [0, 1, 0, 0]))  # all right
        True
        >>> stopped_at_bound(probs, [0, 1, 0, 1], fit_temperature(probs, [0, 1, 0, 1]))  # T = 0.86
        False
    """
    log_t = math.log(temperature)
    nearest = min(LOG_T_BOUNDS, key=lambda bound: abs(bound - log_t))
    nll = _nll(probs, labels)
    return abs(log_t - nearest) < AT_BOUND or nll(nearest) <= nll(log_t) + 1e-12


def bound_fits(items: pd.DataFrame) -> dict[str, float]:
    """``run_dir -> T`` of the runs whose temperature fit on dev stopped at its search bound."""
    fits = {}
    for run, part in items[items["split"] == "dev"].groupby("run_dir"):
        t = fit_temperature(part["probs"], part["label"])
        if stopped_at_bound(part["probs"], part["label"], t):
            fits[run] = t
    return fits


def temperatures(items: pd.DataFrame) -> pd.Series:
    """``run_dir -> T`` fitted on each run's dev items; NaN for runs without dev predictions."""
    dev = items[items["split"] == "dev"]
    fitted = {run: fit_temperature(part["probs"], part["label"]) for run, part in dev.groupby("run_dir")}
    return pd.Series({run: fitted.get(run, math.nan) for run in items["run_dir"].unique()}, dtype=float)


def add_calibrated(items: pd.DataFrame) -> pd.DataFrame:
    """Items plus ``temperature``, ``probs_cal`` (None without a fit) and ``confidence_cal``.

    Dividing logits by ``T > 0`` keeps their order, so predictions (and accuracy) do not change.
    """
    out = items.copy()
    temps = temperatures(items)
    out["temperature"] = out["run_dir"].map(temps)
    out["probs_cal"] = None
    for run, part in out.groupby("run_dir"):
        t = temps.get(run, math.nan)
        if t == t:
            out.loc[part.index, "probs_cal"] = pd.Series(list(scale(part["probs"], t)), index=part.index)
    out["confidence_cal"] = out["probs_cal"].map(lambda p: float(np.max(p)) if p is not None else math.nan)
    return out


def reliability(confidence, correct, bins: int = BINS) -> pd.DataFrame:
    """Per non-empty bin: ``low, high, n, confidence`` (mean) and ``accuracy``."""
    frame = pd.DataFrame({"confidence": np.asarray(confidence, float), "correct": np.asarray(correct, float)})
    edges = np.linspace(0, 1, bins + 1)
    frame["bin"] = np.clip(np.digitize(frame["confidence"], edges[1:-1], right=True), 0, bins - 1)
    table = frame.groupby("bin").agg(
        n=("correct", "size"), confidence=("confidence", "mean"), accuracy=("correct", "mean")
    )
    table["low"], table["high"] = edges[table.index], edges[table.index + 1]
    return table.reset_index(drop=True)


def ece(confidence, correct, bins: int = BINS) -> float:
    """Expected calibration error: ``sum_b n_b / N * |accuracy_b - confidence_b|`` (NaN when empty).

    Example:
        >>> ece([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 0])
        0.1
    """
    table = reliability(confidence, correct, bins)
    if table.empty:
        return math.nan
    return round(float((table["n"] * (table["accuracy"] - table["confidence"]).abs()).sum() / table["n"].sum()), 6)


def calibration_table(items: pd.DataFrame) -> pd.DataFrame:
    """Per split, modality, system and language: n, accuracy, mean confidence, ECE raw and calibrated.

    ``ece_cal`` is NaN where any of the system's runs lacks dev predictions (raw only).
    """
    rows = []
    evaluated = items[items["split"] != "dev"]
    for (split, modality, system, language), part in evaluated.groupby(["split", "modality", "system", "language"]):
        calibrated = part["probs_cal"].notna().all()
        rows.append(
            {
                "split": split,
                "modality": modality,
                "system": system,
                "language": language,
                "n": len(part),
                "accuracy": round(float(part["correct"].mean()), 4),
                "confidence": round(float(part["confidence"].mean()), 4),
                "ece_raw": ece(part["confidence"], part["correct"]),
                "ece_cal": ece(part["confidence_cal"], part["correct"]) if calibrated else math.nan,
                "temperature": round(float(part["temperature"].mean()), 3) if calibrated else math.nan,
            }
        )
    return pd.DataFrame(rows)
