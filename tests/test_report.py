"""The report from run directories: tables, paired tests, agreement, hybrid and figures."""

from __future__ import annotations

import csv
import random

import pytest

from tests.helpers.report_runs import probs_for, write_run
from workbench.report.build import build_report

LANGS = ["eng", "rus", "tha"]
N = 40  # test items per language


def rows_for(system, tag, seed, accuracy: dict[str, float]) -> list[dict]:
    rng = random.Random(hash((system, tag, seed)) % 1000)
    rows = []
    for lang, acc in accuracy.items():
        for k in range(N):
            label = k % 3
            right = k < round(acc * N)
            confidence = 0.9 if system.startswith("ca") else 0.6 + 0.2 * rng.random()
            probs = probs_for(label, right, confidence)
            rows.append(
                {
                    "id": f"{lang}-{k}",
                    "content_id": f"c{k}",
                    "language": lang,
                    "split": "test",
                    "label": label,
                    "pred": max(range(3), key=probs.__getitem__),
                    "probs": probs,
                }
            )
    return rows


def run(root, system, protocol, sources, seed, accuracy, gold=None):
    path = "cascade" if system.startswith("ca") else "e2e"  # the test decides; the report reads the record
    tag = f"{protocol}-{'+'.join(sources)}"
    write_run(
        root / system / tag / f"seed{seed}",
        rows_for(system, tag, seed, accuracy),
        path=path,
        system=system,
        protocol=protocol,
        sources=sources,
        seed=seed,
        gold={"test": gold} if gold else None,
        asr={"test": {lang: (0.2, 0.4) for lang in accuracy}} if path == "cascade" else None,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    for seed in (0, 1):
        shift = 0.05 * seed
        for lang in ("eng", "rus"):
            run(root, "e2e-conv", "in_language", [lang], seed, {lang: 0.9 + shift})
            run(root, "ca-romanized", "in_language", [lang], seed, {lang: 0.8}, gold={lang: 1.0})
        run(root, "e2e-conv", "zero_shot", ["eng"], seed, {"eng": 0.9, "rus": 0.3 + shift, "tha": 0.3})
        ca = {"eng": 0.9, "rus": 0.7, "tha": 0.6}
        run(root, "ca-romanized", "zero_shot", ["eng"], seed, ca, gold={"eng": 1, "rus": 0.8, "tha": 0.7})
        run(root, "ca-native", "zero_shot", ["eng"], seed, {"eng": 0.9, "rus": 0.2, "tha": 0.2})
    (root / "setup" / "asr").mkdir(parents=True)  # an old setup dir without a record: skipped, named
    (root / "setup" / "asr" / "metrics.json").write_text('{"cer": 0.1}')
    return build_report(root)


def read_csv(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_table_means_over_seeds(report):
    rows = read_csv(report / "table_test.csv")
    cell = {(r["protocol"], r["language"], r["system"]): r for r in rows}
    e2e_eng = cell[("in_language", "eng", "e2e-conv")]
    assert float(e2e_eng["accuracy_mean"]) == pytest.approx(0.925) and e2e_eng["seeds"] == "2"
    assert float(e2e_eng["accuracy_std"]) == pytest.approx(0.0354, abs=1e-3)
    assert float(cell[("in_language", "eng", "ca-romanized:gold")]["accuracy_mean"]) == 1.0
    # zero-shot: the source is marked, and the target average leaves it out
    assert ("zero_shot-eng", "eng*", "ca-native") in cell
    assert float(cell[("zero_shot-eng", "avg (targets)", "ca-romanized")]["accuracy_mean"]) == pytest.approx(0.65)
    assert float(cell[("zero_shot-eng", "avg (targets)", "ca-romanized:gold")]["accuracy_mean"]) == pytest.approx(0.75)
    assert {r["modality"] for r in rows} == {"speech"}
    md = (report / "report.md").read_text()
    assert "### zero_shot-eng" in md and "| eng* |" in md and "92.5 ± 3.5" in md


def test_paired_significance_and_agreement(report):
    """The unit is the item: 40 items per language, whatever the number of seeds.

    This replaces the former assertion n == 80 (2 seeds x 40 items counted as 80 pairs), which
    encoded the wrong pooling and made p-values too small (issues 13 and 14).
    """
    sig = {(r["protocol"], r["language"], r["cascade"]): r for r in read_csv(report / "significance_test.csv")}
    tha = sig[("zero_shot-eng", "tha", "ca-romanized")]
    # E2E right on items 0..11, CA on 0..23 (both seeds alike): CA better on 12 items, E2E on none
    assert (tha["n"], tha["e2e_better"], tha["ca_better"]) == ("40", "0", "12")
    assert float(tha["mcnemar_p"]) == pytest.approx(2 * 0.5**12, rel=1e-3)
    assert float(tha["mcnemar_p"]) < 1e-3
    same = sig[("zero_shot-eng", "eng", "ca-romanized")]
    assert float(same["mcnemar_p"]) == 1.0
    # rus: E2E right on 0..11 (seed 0) and 0..13 (seed 1): items 12, 13 have share 0.5; CA right on 0..27
    rus = sig[("zero_shot-eng", "rus", "ca-romanized")]
    assert (rus["e2e_better"], rus["ca_better"]) == ("0", "16")
    assert float(rus["diff"]) == pytest.approx(-(0.5 * 2 + 14) / 40)
    # Holm across the three languages of the protocol: ranks 1, 2, 3 -> x3, x2, x1 (monotone)
    assert float(rus["p_holm"]) == pytest.approx(3 * 2 * 0.5**16, rel=1e-3)
    assert float(tha["p_holm"]) == pytest.approx(2 * 2 * 0.5**12, rel=1e-3)
    assert float(same["p_holm"]) == 1.0
    agree = {(r["protocol"], r["language"], r["cascade"]): r for r in read_csv(report / "agreement_test.csv")}
    row = agree[("zero_shot-eng", "tha", "ca-romanized")]
    assert [float(row[k]) for k in ("both_right", "only_e2e", "only_ca", "both_wrong")] == [12, 0, 12, 16]


def test_pooled_zero_shot_test_leaves_out_the_source(report):
    pooled = {r["cascade"]: r for r in read_csv(report / "pooled_test.csv")}
    romanized = pooled["ca-romanized"]
    assert romanized["languages"] == "rus tha" and romanized["n"] == "80" and romanized["contents"] == "40"
    assert float(romanized["diff"]) == pytest.approx(-(15 + 12) / 80)  # rus: 2 x 0.5 + 14 x 1; tha: 12 x 1
    assert float(romanized["ci_high"]) < 0 < 0.05 and float(romanized["p"]) < 0.001
    native = pooled["ca-native"]  # E2E 0.3 vs CA 0.2 on rus and tha: E2E ahead
    assert float(native["diff"]) > 0


def test_hybrid_is_scored_like_a_system(report):
    rows = read_csv(report / "table_test.csv")
    hybrid = {
        r["language"]: r
        for r in rows
        if r["system"] == "hybrid:e2e-conv+ca-romanized" and r["protocol"] == "zero_shot-eng"
    }
    # the cascade is more confident (0.9 vs <= 0.8), so where they disagree the hybrid follows it
    assert float(hybrid["tha"]["accuracy_mean"]) == pytest.approx(0.6)
    # no dev predictions in these runs: no calibrated hybrid, and the report says calibration is raw only
    assert not any(r["system"].startswith("hybrid-cal") for r in rows)
    assert "calibration is raw only" in (report / "report.md").read_text()


def test_figures_written(report):
    for name in (
        "heatmap_e2e-conv.png",
        "heatmap_ca-romanized.png",
        "protocol_averages.png",
        "ladder_zero_shot-eng.png",
        "reliability_e2e-conv.png",
    ):
        path = report / name
        assert path.is_file() and path.stat().st_size > 5000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![protocol_averages](protocol_averages.png)" in (report / "report.md").read_text()


def test_old_runs_are_named_and_skipped(report):
    warnings = read_csv(report / "warnings.csv")
    skipped = [w for w in warnings if w["check"] == "not read"]
    assert [w["run_dir"] for w in skipped] == [str(report.parent / "setup" / "asr")]
    assert "no run record" in skipped[0]["detail"]
    assert str(report.parent / "setup" / "asr") in (report / "report.md").read_text().split("## Accuracy")[0]


def test_damaged_metrics_file_is_named_and_left_out(tmp_path, caplog):
    accuracy = {"eng": 0.9, "rus": 0.5, "tha": 0.5}
    run(tmp_path, "e2e-conv", "zero_shot", ["eng"], 0, accuracy)
    run(tmp_path, "ca-native", "zero_shot", ["eng"], 0, accuracy)
    damaged = tmp_path / "ca-native" / "zero_shot-eng" / "seed0" / "metrics.json"
    damaged.write_text(damaged.read_text()[:100])
    out = build_report(tmp_path)
    assert str(damaged) in caplog.text
    systems = {r["system"] for r in read_csv(out / "table_test.csv")}
    assert systems == {"e2e-conv"}


def test_speech_and_vision_systems_sit_in_one_report(tmp_path):
    from tests.helpers.report_runs import item_rows

    speech = item_rows("eng", [True] * 8) + item_rows("rus", [True] * 5 + [False] * 3)
    image = item_rows("eng", [True] * 6 + [False] * 2) + item_rows("rus", [True] * 4 + [False] * 4)
    write_run(tmp_path / "e2e", speech, sources=["eng"])
    write_run(tmp_path / "ca", speech, path="cascade", system="ca-romanized", sources=["eng"])
    write_run(tmp_path / "vis", image, path="e2e", system="vis-ft", modality="image", sources=["eng"])
    out = build_report(tmp_path)
    table = read_csv(out / "table_test.csv")
    assert {(r["system"], r["modality"]) for r in table} >= {("vis-ft", "image"), ("e2e-conv", "speech")}
    assert {(r["e2e"], r["modality"]) for r in read_csv(out / "significance_test.csv")} == {("e2e-conv", "speech")}
    md = (out / "report.md").read_text()
    assert "### zero_shot-eng (image)" in md and "### zero_shot-eng (speech)" in md


def test_cli(tmp_path, capsys):
    from workbench.report.__main__ import main

    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(tmp_path)]) == 0  # no runs yet: a report that says so, not a crash
    assert "0 runs with predictions" in capsys.readouterr().out
    assert (tmp_path / "report" / "report.md").is_file()


def test_prediction_records_without_a_field_are_named(tmp_path):
    from tests.helpers.report_runs import item_rows

    write_run(tmp_path / "good", item_rows("eng", [True] * 4), sources=["eng"])
    bad = write_run(tmp_path / "bad", item_rows("eng", [True] * 4), sources=["eng"], seed=1)
    lines = (bad / "predictions.jsonl").read_text().replace('"probs"', '"p"')
    (bad / "predictions.jsonl").write_text(lines)
    out = build_report(tmp_path)
    (skipped,) = [w for w in read_csv(out / "warnings.csv") if w["check"] == "not read"]
    assert skipped["run_dir"] == str(bad)
    assert skipped["detail"] == f"{bad / 'predictions.jsonl'} field 'probs': missing from the prediction records"


def test_the_item_table_and_paths_come_from_the_record_not_the_name(tmp_path):
    from tests.helpers.report_runs import item_rows
    from workbench.report.frame import load_runs

    rows = item_rows("eng", [True] * 4) + item_rows("rus", [True, False, False, False], transcript="x")
    write_run(tmp_path / "a", rows, system="ca-looking-e2e", sources=["eng"], stopped_by="max_epochs")
    write_run(
        tmp_path / "b",
        rows,
        path="cascade",
        system="e2e-looking-ca",
        sources=["eng"],
        asr={"test": {"rus": (0.3, 0.5)}},
    )
    runs = load_runs(tmp_path)
    items = runs.items
    assert len(items) == 16 and {"seed", "stopped_by", "protocol", "sources", "targets", "content_id"} <= set(items)
    e2e = items[items["system"] == "ca-looking-e2e"]
    assert set(e2e["path"]) == {"e2e"} and set(e2e["stopped_by"]) == {"max_epochs"}
    cascade = items[(items["system"] == "e2e-looking-ca") & (items["language"] == "rus")]
    assert (
        set(cascade["path"]) == {"cascade"} and set(cascade["asr_cer"]) == {0.3} and set(cascade["transcript"]) == {"x"}
    )
    assert items.loc[items["system"] == "e2e-looking-ca", "correct"].sum() == 5
    (pair,) = read_csv(build_report(tmp_path) / "pooled_test.csv")
    assert (pair["e2e"], pair["cascade"]) == ("ca-looking-e2e", "e2e-looking-ca")


def test_pooled_targets_split_by_script_only_when_they_mix():
    """Romanization can only help targets in other scripts: the pooled test adds the Latin-script and
    the other-script targets as their own rows when (and only when) the targets mix both."""
    import pandas as pd

    from workbench.report.compare import target_sets

    mixed = pd.DataFrame({"language": ["deu", "rus", "tha", "spa"]})
    sets = {name: sorted(part["language"]) for name, part in target_sets(mixed)}
    assert sets == {
        "all": ["deu", "rus", "spa", "tha"],
        "Latin script": ["deu", "spa"],
        "other scripts": ["rus", "tha"],
    }
    assert [name for name, _ in target_sets(pd.DataFrame({"language": ["rus", "tha"]}))] == ["all"]
