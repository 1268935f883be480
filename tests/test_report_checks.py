"""The report's diagnostics on hand-made runs: each warning fires exactly when its fault is there,
the headroom ladder reads the records and the recognizer scores, calibration is fitted on dev."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from cascade.asr_text import error_rates
from tests.helpers.report_runs import item_rows, write_run
from workbench.report.build import build_report
from workbench.report.calibration import fit_temperature, scale

N = 12  # items per language; 3 classes, chance 33.3%
GOOD = {"eng": 12, "rus": 9, "tha": 8}  # items right per language
# the cascades' names sort against their text kind, so only the record can order the ladder
CASCADES = {"ca-text-a": ("romanized", 0.15), "ca-text-b": ("native", 0.35)}


def flags(right: int) -> list[bool]:
    return [k < right for k in range(N)]


def rows(right: dict[str, int], confidence: float, transcript: str | None = None) -> list[dict]:
    """Test rows right on ``right[lang]`` items; dev rows on one more (so a fit on test differs from one on dev)."""
    out = []
    for lang, r in right.items():
        out += item_rows(lang, flags(r), confidence=confidence, transcript=transcript)
        out += item_rows(lang, flags(min(N, r + 1)), split="dev", confidence=confidence, transcript=transcript)
    return out


def fitted(right: dict[str, int], confidence: float, split: str) -> float:
    """The temperature fitted by hand on one split of :func:`rows`."""
    chosen = [r for r in rows(right, confidence) if r["split"] == split]
    return fit_temperature([r["probs"] for r in chosen], [r["label"] for r in chosen])


def sweep(root, fault: str | None = None):
    """A clean zero-shot comparison (2 seeds of E2E and of two cascades, a recognizer) plus one ``fault``."""
    root.mkdir(parents=True, exist_ok=True)
    for seed in (0, 1):
        right = dict(GOOD)
        if fault == "near chance" and seed == 1:
            right["eng"] = 4  # 33.3% on its own training language
        stopped = "max_time" if fault == "max_time" and seed == 1 else "early_stopping"
        training = {"checks_since_best": 3}
        if fault in ("still improving", "never checked") and seed == 1:
            # the budget ran out: at a check that was the best so far, or before any check
            stopped, training = "max_steps", {"checks_since_best": 0}
            training |= {"best_dev": None, "checks_since_best": None} if fault == "never checked" else {}
        e2e_dir = root / f"e2e-conv/seed{seed}"
        write_run(
            e2e_dir,
            rows(right, 0.95),
            system="e2e-conv",
            sources=["eng"],
            seed=seed,
            stopped_by=stopped,
            training=training,
        )
        for system, (text, cer) in CASCADES.items():
            if fault == "fewer seeds" and system == "ca-text-b" and seed == 1:
                continue
            languages = ["eng", "rus"] if fault == "language sets" and system == "ca-text-b" else list(GOOD)
            transcript, asr = "some words", {lang: (cer, 2 * cer) for lang in languages}
            if fault == "empty recognizer" and system == "ca-text-a" and seed == 0:
                transcript = ""  # the recognizer wrote nothing; its CER is what the cascade program computes
                scores = error_rates(["march july"] * N, [""] * N)
                asr = {lang: (scores["cer"], scores["wer"]) for lang in languages}
            write_run(
                root / f"{system}/seed{seed}",
                rows({lang: GOOD[lang] - 1 for lang in languages}, 0.5, transcript),
                path="cascade",
                system=system,
                sources=["eng"],
                seed=seed,
                script=text,
                asr={"test": asr},
                gold={"test": {lang: 1.0 for lang in languages}},
            )
    recognizer_cer = 0.96 if fault == "recognizer run" else 0.2
    write_run(
        root / "setup/asr-romanized",
        [],
        path="recognizer",
        system="ctc-romanized",
        protocol="all_languages",
        asr={"test": {"eng": (0.1, 0.2), "tha": (recognizer_cer, 1.0)}},
    )
    if fault == "duplicate":
        shutil.copytree(root / "e2e-conv/seed0", root / "e2e-conv/seed0-again")
    return build_report(root)


def read_csv(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return sweep(tmp_path_factory.mktemp("clean"))


def test_a_clean_sweep_has_nothing_to_check(clean):
    assert read_csv(clean / "warnings.csv") == []
    md = clean / "report.md"
    assert "## Check these runs\n\nNothing to check" in md.read_text()


@pytest.mark.parametrize(
    "fault, check, runs",
    [
        ("empty recognizer", "recognizer", ["ca-text-a/seed0"]),
        ("recognizer run", "recognizer", ["setup/asr-romanized"]),  # tha at CER 0.96, eng fine
        ("max_time", "stopped", ["e2e-conv/seed1"]),
        ("still improving", "budget", ["e2e-conv/seed1"]),
        ("never checked", "budget", ["e2e-conv/seed1"]),
        ("near chance", "near chance", ["e2e-conv/seed1"]),
        ("language sets", "language sets", ["ca-text-b/seed0", "ca-text-b/seed1"]),
        ("fewer seeds", "seeds", ["ca-text-b/seed0"]),
        ("duplicate", "duplicate", ["e2e-conv/seed0", "e2e-conv/seed0-again"]),
    ],
)
def test_each_fault_is_flagged_with_its_run_directory(tmp_path, fault, check, runs):
    report = sweep(tmp_path, fault)
    warnings = read_csv(report / "warnings.csv")
    assert {w["check"] for w in warnings} == {check}, warnings
    assert {w["run_dir"] for w in warnings} == {str(tmp_path / r) for r in runs}
    top = (report / "report.md").read_text().split("## Accuracy")[0]
    assert all(f"`{tmp_path / r}`" in top for r in runs)
    if fault == "empty recognizer":  # named twice: by its CER and by its empty transcripts
        details = sorted(w["detail"] for w in warnings)
        assert details == [
            "recognizer CER >= 0.8 in eng 1.00, rus 1.00, tha 1.00 (test)",
            "the recognizer wrote nothing for 100% of eng, 100% of rus, 100% of tha (test)",
        ]


def test_ladder_climbs_from_gold_through_native_and_romanized_to_e2e(clean):
    ladder = [r for r in read_csv(clean / "ladder_test.csv") if r["language"] == "rus"]
    assert [r["system"] for r in ladder] == ["ca-text-b:gold", "ca-text-a:gold", "ca-text-b", "ca-text-a", "e2e-conv"]
    by_system = {r["system"]: r for r in ladder}
    assert float(by_system["ca-text-b"]["cer"]) == 0.35 and float(by_system["ca-text-a"]["wer"]) == 0.3
    assert by_system["e2e-conv"]["cer"] == "" and by_system["ca-text-a:gold"]["cer"] == ""
    assert float(by_system["ca-text-a:gold"]["accuracy"]) == 1.0
    assert float(by_system["ca-text-a"]["accuracy"]) == pytest.approx(8 / 12, abs=1e-4)
    assert float(by_system["e2e-conv"]["accuracy"]) == pytest.approx(9 / 12, abs=1e-4)
    assert {r["chance"] for r in ladder} == {"0.3333"}
    md = (clean / "report.md").read_text()
    assert "| language | ca-text-b:gold | ca-text-a:gold | ca-text-b | CER / WER | ca-text-a | CER / WER |" in md
    assert "| rus | 100.0 | 100.0 | 66.7 | 0.35 / 0.70 | 66.7 | 0.15 / 0.30 | 75.0 | 33.3 |" in md
    assert (clean / "ladder_zero_shot-eng.png").stat().st_size > 5000


def test_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(4000, 4))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = [rng.choice(4, p=p) for p in true]
    overconfident = scale(true, 0.5)  # the model's reported probabilities: true logits x 2
    assert fit_temperature(overconfident, labels) == pytest.approx(2.0, rel=0.1)
    assert fit_temperature(true, labels) == pytest.approx(1.0, rel=0.1)


def test_calibration_fitted_on_dev_and_hybrid_scored_raw_and_calibrated(clean):
    calibration = {(r["system"], r["language"]): r for r in read_csv(clean / "calibration.csv")}
    e2e = calibration[("e2e-conv", "rus")]  # says 0.95, right on 75%: over-confident
    assert float(e2e["temperature"]) > 1 and float(e2e["ece_cal"]) < float(e2e["ece_raw"])
    # fitted on the runs' dev rows, not on their test rows
    on_dev, on_test = fitted(GOOD, 0.95, "dev"), fitted(GOOD, 0.95, "test")
    assert float(e2e["temperature"]) == pytest.approx(on_dev, abs=1e-3) and abs(on_dev - on_test) > 0.05
    cascade = calibration[("ca-text-a", "rus")]  # says 0.5, right on 67%: under-confident
    assert float(cascade["temperature"]) < 1 and float(cascade["ece_cal"]) < float(cascade["ece_raw"])
    systems = {r["system"] for r in read_csv(clean / "table_test.csv")}
    assert {"hybrid:e2e-conv+ca-text-a", "hybrid-cal:e2e-conv+ca-text-a"} <= systems
    assert (clean / "reliability_e2e-conv.png").stat().st_size > 5000
    assert "calibration is raw only" not in (clean / "report.md").read_text()


def test_dev_predictions_are_read_from_either_file(tmp_path):
    """The program base writes dev predictions to dev_predictions.jsonl; split "dev" rows in
    predictions.jsonl count the same."""
    dev_rows = item_rows("eng", flags(9), split="dev", confidence=0.95)
    test_rows = item_rows("eng", flags(9), confidence=0.95)
    own_file = write_run(tmp_path / "own-file", test_rows + dev_rows, sources=["eng"])
    inline = write_run(tmp_path / "inline", test_rows, sources=["eng"], seed=1)
    with (inline / "predictions.jsonl").open("a") as handle:
        handle.write((own_file / "dev_predictions.jsonl").read_text())
    report = build_report(tmp_path)
    (row,) = [r for r in read_csv(report / "calibration.csv") if r["split"] == "test"]
    assert row["n"] == "24" and float(row["temperature"]) > 1  # both runs fitted (else NaN)
