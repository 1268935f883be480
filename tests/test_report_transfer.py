"""The transfer matrix section of the report and its regression, against hand-computed references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers.report_runs import item_rows, write_run
from workbench.report import regression, transfer
from workbench.report.build import build_report

LANGUAGES = ("eng", "deu", "rus")
# right answers out of 4 test items: system -> source -> target -> count
RIGHT = {
    "e2e-conv": {
        "eng": {"eng": 4, "deu": 3, "rus": 1},
        "deu": {"eng": 2, "deu": 4, "rus": 1},
        "rus": {"eng": 1, "deu": 1, "rus": 4},
    },
    "ca-romanized": {
        "eng": {"eng": 4, "deu": 4, "rus": 3},
        "deu": {"eng": 3, "deu": 4, "rus": 2},
        "rus": {"eng": 2, "deu": 3, "rus": 3},
    },
}


def _rows(counts: dict[str, int], romanized: bool) -> list[dict]:
    rows = []
    for language, right in counts.items():
        for row in item_rows(language, [k < right for k in range(4)], classes=3):
            rows.append({**row, "romanized": f"{language} text {row['id']}"} if romanized else row)
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    for system, by_source in RIGHT.items():
        cascade = system.startswith("ca-")
        for source, counts in by_source.items():
            write_run(
                root / system / source,
                _rows(counts, cascade),
                path="cascade" if cascade else "e2e",
                system=system,
                protocol="zero_shot",
                sources=[source],
                script="romanized" if cascade else None,
                asr={"test": {lang: (0.1 * (k + 1), 0.3) for k, lang in enumerate(LANGUAGES)}} if cascade else None,
                gold={"test": {lang: 1.0 for lang in LANGUAGES}} if cascade else None,
            )
    return build_report(root)


def test_matrix_differences_and_source_averages_match_hand_computed(report):
    averages = pd.read_csv(report / "transfer_sources.csv").set_index("source")
    # e2e-conv from eng: (3 + 1) / 2 of 4 right; ca-romanized from rus: (2 + 3) / 2 of 4
    assert averages.loc["eng", "e2e-conv"] == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert averages.loc["rus", "ca-romanized"] == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert averages.loc["deu", "ca-romanized:gold"] == pytest.approx(1.0)
    text = (report / "report.md").read_text()
    assert "## Transfer matrix on `test`" in text
    # romanized cascade − E2E, deu -> rus: (2 − 1) / 4 = +25.0 points; rus -> eng: (2 − 1) / 4
    block = text.split("### ca-romanized − e2e-conv (points)")[1]
    deu_row = next(line for line in block.splitlines() if line.startswith("| deu"))
    assert deu_row.split("|")[1:5] == [" deu ", " +0.0 ", " +25.0 ", " +25.0 "]  # columns deu, eng, rus
    assert (report / "transfer_matrix.png").is_file()


def test_regression_with_three_languages_says_the_pairs_are_too_few(report):
    text = (report / "report.md").read_text()
    assert "too few pairs to fit: n = 6" in text
    table = pd.read_csv(report / "transfer_regression.csv")
    assert table["coef"].isna().all()


def test_pair_features_by_hand():
    pairs = regression.pair_features(
        pd.DataFrame({"source": ["eng", "eng"], "target": ["deu", "rus"]}),
        {"eng": ["abc"], "deu": ["abd"], "rus": ["xyz"]},
    )
    assert pairs["same_script"].tolist() == [1.0, 0.0]
    # 3-grams with a space either side: " ab", "abd", "bd " -> " ab" is English's too: 1 of 3
    assert pairs["char3_overlap"].tolist() == pytest.approx([1 / 3, 0.0])
    assert ((pairs["genetic"] > 0) & (pairs["genetic"] <= 1)).all()
    assert pairs.loc[0, "genetic"] < pairs.loc[1, "genetic"]  # German is closer kin to English than Russian


def test_uriel_vectors_equal_lang2vec_get_features():
    import lang2vec.lang2vec as l2v

    ours = regression._uriel(("eng", "rus", "tha"), "syntactic")
    theirs = l2v.get_features(["eng", "rus", "tha"], "syntax_knn")
    for code in ("eng", "rus", "tha"):
        assert ours[code].tolist() == pytest.approx(theirs[code])


def _cluster_sandwich(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and cluster-robust SEs written out: (X'X)^-1 (sum_g X_g'u_g u_g'X_g) (X'X)^-1
    with the small-sample factor G/(G-1) (N-1)/(N-K) (Stata's, and statsmodels' default)."""
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    residuals = y - X @ beta
    meat = sum(
        np.outer(X[groups == g].T @ residuals[groups == g], X[groups == g].T @ residuals[groups == g])
        for g in np.unique(groups)
    )
    n, k, g = len(y), X.shape[1], len(np.unique(groups))
    covariance = g / (g - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    return beta, np.sqrt(np.diag(covariance))


def test_clustered_ols_matches_the_sandwich_written_out():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"target": np.repeat(list("abcdefghij"), 4), "x1": rng.normal(size=40), "x2": rng.uniform(size=40)}
    )
    frame["y"] = 2 + 3 * frame["x1"] - frame["x2"] + rng.normal(size=40) + np.repeat(rng.normal(size=10), 4)
    table, note, _ = regression.fit(frame, "y", ["x1", "x2"])
    X = np.column_stack([np.ones(40), frame["x1"], frame["x2"]])
    beta, se = _cluster_sandwich(X, frame["y"].to_numpy(), frame["target"].to_numpy())
    assert table["coef"].to_numpy() == pytest.approx(beta)
    assert table["se"].to_numpy() == pytest.approx(se)
    # 95% t interval on G - 1 = 9 degrees of freedom
    from scipy.stats import t

    assert table["ci_high"].to_numpy() == pytest.approx(beta + t.ppf(0.975, 9) * se)
    assert note == ""


def test_singular_design_and_few_clusters_are_said():
    frame = pd.DataFrame({"target": list("aabbccdd") * 2, "x1": np.arange(16.0), "y": np.arange(16.0) % 5})
    frame["x2"] = 2 * frame["x1"]
    assert regression.fit(frame, "y", ["x1", "x2"])[1].startswith("singular design")
    frame["x2"] = np.sin(frame["x1"])
    frame["x3"] = np.cos(frame["x1"])
    frame["x4"] = frame["x1"] ** 2
    table, note, _ = regression.fit(frame, "y", ["x1", "x2", "x3", "x4"])
    assert "only 4 targets (clusters) for 5 coefficients" in note
    assert len(table) == 5


def test_differences_pair_romanized_cascades_with_e2e_only():
    m = pd.DataFrame([[1.0, 0.5], [0.25, 1.0]], index=["eng", "rus"], columns=["eng", "rus"])
    found = {"e": m, "c": m + 0.1, "n": m - 0.1}
    diffs = transfer.differences(found, {"e": "e2e", "c": "cascade", "n": "cascade"}, {"c": "romanized", "n": "native"})
    assert list(diffs) == ["c − e"]
    assert diffs["c − e"].to_numpy() == pytest.approx(np.full((2, 2), 0.1))
