"""What explains transfer: per system, OLS of zero-shot accuracy (and of the drop from the target's
in-language accuracy) on features of the (source, target) pair, with statsmodels.

Features (one row per pair of the transfer matrix, source ≠ target):

- ``same_script``: 1 when source and target share their ISO 15924 script (``workbench.languages``);
- ``genetic``, ``syntactic``, ``phonological``: cosine distance between the two languages' URIEL
  vectors from the ``lang2vec`` package (``fam``, ``syntax_knn``, ``phonology_knn``; its wheel
  carries the data, so nothing is downloaded). lang2vec 1.1.2 (PyPI) ships no precomputed distance
  table, so the distance is computed here from the vectors;
- ``asr_cer``: the cascade's recognizer's CER on the target (cascades only);
- ``char3_overlap``: the share of the target's character 3-grams that occur in the source's, over
  the romanized texts the runs hold (the cascades' romanized transcripts of the evaluated items:
  the training texts themselves are not in a run directory).

Standard errors are clustered by target language (each target's cells share its test items and
its recognizer), with t intervals on G − 1 degrees of freedom (G: the number of targets).
A fit is refused, with the reason in the table, when the pairs are too few (n ≤ k + 2) or the
design is singular; with G ≤ k the clustered covariance has rank at most G − 1 < k, which the
table says too.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.languages import resolve

# lang2vec's feature sets behind each distance: (its data file, source, feature-name prefix), as its
# FEATURE_SETS_DICT names them for "fam", "syntax_knn" and "phonology_knn"
URIEL_FILES = {
    "genetic": ("family_features.npz", "FAM", ""),
    "syntactic": ("feature_predictions.npz", "predicted", "S_"),
    "phonological": ("feature_predictions.npz", "predicted", "P_"),
}
FEATURES = ("same_script", *URIEL_FILES, "asr_cer", "char3_overlap")
OUTCOMES = {"accuracy": "zero-shot accuracy (points)", "drop": "in-language − zero-shot (points)"}
LEVEL = 0.95
NGRAM = 3


@cache
def _uriel(languages: tuple[str, ...], kind: str) -> dict[str, np.ndarray]:
    """URIEL vectors of ``kind`` for the languages lang2vec knows, by our code.

    Read from lang2vec's own data files (``URIEL_FILES``: its file, source and feature prefix of
    each set) rather than through ``lang2vec.get_features``, which looks each feature name up in
    a linear scan (minutes for the 3718 family features) and loads every file at import."""
    from importlib.resources import files

    filename, source, prefix = URIEL_FILES[kind]
    with np.load(files("lang2vec") / "data" / filename) as database:
        langs = {str(code): k for k, code in enumerate(database["langs"])}
        columns = np.flatnonzero(np.char.startswith(database["feats"].astype(str), prefix))
        layer = int(np.flatnonzero(database["sources"].astype(str) == source)[0])
        data = database["data"]
        vectors = {}
        for code in languages:
            try:
                iso = resolve(code).iso3
            except ConfigError:
                continue
            if iso in langs:
                values = data[langs[iso], columns, layer]
                if (values != -1).all():  # -1: URIEL has no value for this language
                    vectors[code] = values.astype(float)
    return vectors


def cosine_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """1 − cos(a, b); NaN when either vector is missing or all zero."""
    if a is None or b is None or not a.any() or not b.any():
        return float("nan")
    return float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def char_ngrams(texts: list[str], n: int = NGRAM) -> set[str]:
    """Character n-grams of the texts (each padded with one space either side), lowercased."""
    grams = set()
    for text in texts:
        padded = f" {str(text).lower()} "
        grams.update(padded[k : k + n] for k in range(len(padded) - n + 1))
    return grams


def ngram_overlap(source: set[str], target: set[str]) -> float:
    """Share of the target's n-grams that the source has (NaN when the target has none)."""
    return len(source & target) / len(target) if target else float("nan")


def script_of(code: str) -> str | None:
    try:
        return resolve(code).script
    except ConfigError:
        return None


def pair_features(pairs: pd.DataFrame, romanized: dict[str, list[str]]) -> pd.DataFrame:
    """``pairs`` (``source, target``, optionally ``asr_cer``) with every feature added."""
    grams = {lang: char_ngrams(texts) for lang, texts in romanized.items()}
    out = pairs.copy()
    pairs_ = list(zip(out["source"], out["target"], strict=True))
    out["same_script"] = [float(script_of(s) is not None and script_of(s) == script_of(t)) for s, t in pairs_]
    languages = tuple(sorted({*out["source"], *out["target"]}))
    for kind in URIEL_FILES:
        vectors = _uriel(languages, kind)
        out[kind] = [cosine_distance(vectors.get(s), vectors.get(t)) for s, t in pairs_]
    out["char3_overlap"] = [
        ngram_overlap(grams[s], grams[t]) if s in grams and t in grams else float("nan")
        for s, t in zip(out["source"], out["target"], strict=True)
    ]
    if "asr_cer" not in out:
        out["asr_cer"] = float("nan")
    return out


def fit(frame: pd.DataFrame, outcome: str, features: list[str]) -> tuple[pd.DataFrame, str, object]:
    """OLS of ``outcome`` on ``features`` + intercept, SEs clustered by ``frame["target"]``.

    Returns (coefficient table, a note: empty when the fit means what it says, the statsmodels
    result or None when no fit was made). Features missing for some pair, or constant over all
    pairs, are left out (named in the note); rows with a missing outcome are dropped.
    """
    import statsmodels.api as sm

    notes = []
    usable = [f for f in features if frame[f].notna().all() and frame[f].nunique() > 1]
    left = [f for f in features if f not in usable]
    if left:
        notes.append(f"left out (missing for some pair, or constant): {', '.join(left)}")
    data = frame.dropna(subset=[outcome])
    X = sm.add_constant(data[usable].astype(float), has_constant="add")
    n, k, clusters = len(data), X.shape[1], data["target"].nunique()
    if n <= k + 2:
        return _empty(), "; ".join([*notes, f"too few pairs to fit: n = {n} ≤ k + 2 = {k + 2}"]), None
    if np.linalg.matrix_rank(X.to_numpy()) < k:
        return _empty(), "; ".join([*notes, f"singular design: rank < k = {k} (features collinear)"]), None
    groups = pd.factorize(data["target"])[0]
    result = sm.OLS(data[outcome].astype(float), X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    if clusters <= k:
        notes.append(
            f"only {clusters} targets (clusters) for {k} coefficients: the clustered covariance has rank ≤ "
            f"{clusters - 1}, so the intervals do not mean what they say"
        )
    low, high = result.conf_int(alpha=1 - LEVEL).T.to_numpy()
    table = pd.DataFrame(
        {
            "term": X.columns,
            "coef": result.params.to_numpy(),
            "se": result.bse.to_numpy(),
            "ci_low": low,
            "ci_high": high,
            "p": result.pvalues.to_numpy(),
        }
    )
    return table, "; ".join(notes), result


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["term", "coef", "se", "ci_low", "ci_high", "p"])


def pairs_of(matrix: pd.DataFrame) -> pd.DataFrame:
    """One row per off-diagonal cell: ``source, target, accuracy, drop`` (points)."""
    rows = []
    for source, row in matrix.iterrows():
        for target, value in row.items():
            if source == target or value != value:
                continue
            own = matrix.loc[target, target] if target in matrix.index else float("nan")
            rows.append({"source": source, "target": target, "accuracy": 100 * value, "drop": 100 * (own - value)})
    return pd.DataFrame(rows, columns=["source", "target", "accuracy", "drop"])


def _inputs(runs) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Romanized texts per language and each system's recognizer CER per target, from the item table."""
    items = runs.items[runs.items["split"] == "test"]
    texts = items.dropna(subset=["romanized"]).drop_duplicates(["language", "id"])
    romanized = texts.groupby("language")["romanized"].apply(list).to_dict()
    cer = items.dropna(subset=["asr_cer"]).groupby(["system", "language"])["asr_cer"].mean().rename("asr_cer")
    return romanized, cer.reset_index()


def regressions(found: dict[str, pd.DataFrame], runs) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The coefficient table of every system and outcome, and each system's pairs with fitted values."""
    romanized, cer = _inputs(runs)
    tables_, fitted = [], {}
    for system, matrix in found.items():
        pairs = pairs_of(matrix)
        own_cer = cer[cer["system"] == system].rename(columns={"language": "target"})[["target", "asr_cer"]]
        if not own_cer.empty:
            pairs = pairs.merge(own_cer, on="target", how="left")
        pairs = pair_features(pairs, romanized)
        for outcome in OUTCOMES:
            table, note, result = fit(pairs, outcome, list(FEATURES))
            if result is not None and outcome == "accuracy":
                fitted[system] = pairs.assign(predicted=result.fittedvalues.reindex(pairs.index))
            rows = table.assign(system=system, outcome=outcome, n=len(pairs), targets=pairs["target"].nunique())
            tables_.append(
                rows.assign(note=note)
                if not rows.empty
                else pd.DataFrame(
                    [
                        {
                            "system": system,
                            "outcome": outcome,
                            "n": len(pairs),
                            "targets": pairs["target"].nunique(),
                            "note": note,
                        }
                    ]
                )
            )
    columns = ["system", "outcome", "term", "coef", "se", "ci_low", "ci_high", "p", "n", "targets", "note"]
    return pd.concat(tables_, ignore_index=True).reindex(columns=columns) if tables_ else pd.DataFrame(), fitted


def scatter(fitted: dict[str, pd.DataFrame], path):
    """Predicted vs observed zero-shot accuracy, one panel per system, the diagonal drawn."""
    from workbench.report import plots

    if not fitted:
        return None
    fig, grid = plots.plt.subplots(1, len(fitted), figsize=(3.2 * len(fitted), 3.3), squeeze=False)
    for ax, (system, pairs) in zip(grid[0], fitted.items(), strict=True):
        ax.plot([0, 100], [0, 100], color="0.6", linewidth=1)
        ax.scatter(pairs["predicted"], pairs["accuracy"], s=12, c=pairs["same_script"], cmap="coolwarm", vmin=0, vmax=1)
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("predicted (%)")
        ax.set_title(system, fontsize=8)
    grid[0][0].set_ylabel("observed zero-shot accuracy (%)")
    fig.suptitle("transfer regression: predicted vs observed (red: same script)", fontsize=9)
    return plots._save(fig, path)


def markdown_lines(coefficients: pd.DataFrame) -> list[str]:
    """The coefficient table per system and outcome, each with its note said in words."""
    from workbench.report.tables import markdown

    lines = []
    for (system, outcome), part in coefficients.groupby(["system", "outcome"], sort=False):
        head = part.iloc[0]
        lines += ["", f"**{system}**, {OUTCOMES[outcome]}: n = {head['n']} pairs, {head['targets']} targets."]
        if isinstance(head.get("note"), str) and head["note"]:
            lines += ["", f"Note: {head['note']}."]
        fitted = part.dropna(subset=["coef"]) if "coef" in part else part.iloc[0:0]
        if not fitted.empty:
            rows = [
                [r.term, f"{r.coef:+.2f}", f"{r.se:.2f}", f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]", f"{r.p:.3g}"]
                for r in fitted.itertuples()
            ]
            lines += ["", markdown(["term", "coef", "SE (clustered)", f"{LEVEL:.0%} CI", "p"], rows)]
    return lines
