"""The report from run directories: tables, paired tests, agreement, hybrid and figures."""

from __future__ import annotations

import csv
import random

import pytest

from workbench.items import Item
from workbench.predictions import make_predictions
from workbench.protocols import Protocol
from workbench.report.build import build_report
from workbench.runs import RunDir, RunInfo

LANGS = ["eng", "rus", "tha"]
N = 40  # test items per language


def probs_for(label: int, right: bool, confidence: float) -> list[float]:
    pred = label if right else (label + 1) % 3
    rest = (1 - confidence) / 2
    return [confidence if k == pred else rest for k in range(3)]


def write_run(root, system, protocol, seed, accuracy: dict[str, float], gold: dict[str, float] | None = None):
    rng = random.Random(hash((system, protocol.tag, seed)) % 1000)
    items, probs = [], []
    for lang in protocol.targets or LANGS:
        for k in range(N):
            label = k % 3
            items.append(Item(f"{lang}-{k}", f"c{k}", lang, label, "test"))
            right = k < round(accuracy[lang] * N)
            probs.append(probs_for(label, right, 0.9 if system.startswith("ca") else 0.6 + 0.2 * rng.random()))
    records = make_predictions(items, probs, "test", system, protocol.tag, seed)
    extra = None
    if gold:
        extra = {
            "gold_text": {
                "splits": {
                    "test": {"per_language": {lang: {"accuracy": a, "macro_f1": a, "n": N} for lang, a in gold.items()}}
                }
            }
        }
    run = RunDir(root / system / protocol.tag / f"seed{seed}")
    run.write_results(records, RunInfo(system, protocol, seed, ["a", "b", "c"]), extra)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    for seed in (0, 1):
        shift = 0.05 * seed
        for lang in ("eng", "rus"):
            protocol = Protocol("in_language", [lang], targets=[lang])
            write_run(root, "e2e-conv", protocol, seed, {lang: 0.9 + shift})
            write_run(root, "ca-romanized", protocol, seed, {lang: 0.8}, gold={lang: 1.0})
        zs = Protocol("zero_shot", ["eng"], targets=LANGS)
        write_run(root, "e2e-conv", zs, seed, {"eng": 0.9, "rus": 0.3 + shift, "tha": 0.3})
        write_run(
            root,
            "ca-romanized",
            zs,
            seed,
            {"eng": 0.9, "rus": 0.7, "tha": 0.6},
            gold={"eng": 1, "rus": 0.8, "tha": 0.7},
        )
        write_run(root, "ca-native", zs, seed, {"eng": 0.9, "rus": 0.2, "tha": 0.2})
    (root / "setup" / "asr").mkdir(parents=True)  # setup dirs without a system are ignored
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
    md = (report / "report.md").read_text()
    assert "### zero_shot-eng" in md and "| eng* |" in md and "92.5 ± 3.5" in md


def test_paired_significance_and_agreement(report):
    sig = {(r["protocol"], r["language"], r["cascade"]): r for r in read_csv(report / "significance_test.csv")}
    tha = sig[("zero_shot-eng", "tha", "ca-romanized")]
    # E2E right on items 0..11, CA on 0..23 (both seeds): CA-only = 2 x 12, E2E-only = 0
    assert (tha["n"], tha["only_e2e"], tha["only_cascade"]) == ("80", "0", "24")
    assert float(tha["mcnemar_p"]) < 1e-5
    same = sig[("zero_shot-eng", "eng", "ca-romanized")]
    assert float(same["mcnemar_p"]) == 1.0
    agree = {(r["protocol"], r["language"], r["cascade"]): r for r in read_csv(report / "agreement_test.csv")}
    row = agree[("zero_shot-eng", "tha", "ca-romanized")]
    assert [int(row[k]) for k in ("both_right", "only_a", "only_b", "both_wrong")] == [24, 0, 24, 32]


def test_hybrid_is_scored_like_a_system(report):
    rows = read_csv(report / "table_test.csv")
    hybrid = {
        r["language"]: r
        for r in rows
        if r["system"] == "hybrid:e2e-conv+ca-romanized" and r["protocol"] == "zero_shot-eng"
    }
    # the cascade is more confident (0.9 vs <= 0.8), so where they disagree the hybrid follows it
    assert float(hybrid["tha"]["accuracy_mean"]) == pytest.approx(0.6)


def test_figures_written(report):
    for name in ("heatmap_e2e-conv.png", "heatmap_ca-romanized.png", "protocol_averages.png"):
        path = report / name
        assert path.is_file() and path.stat().st_size > 5000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![protocol_averages](protocol_averages.png)" in (report / "report.md").read_text()


def test_damaged_metrics_file_is_named_and_left_out(tmp_path, caplog):
    protocol = Protocol("zero_shot", ["eng"], targets=LANGS)
    write_run(tmp_path, "e2e-conv", protocol, 0, {"eng": 0.9, "rus": 0.5, "tha": 0.5})
    write_run(tmp_path, "ca-native", protocol, 0, {"eng": 0.9, "rus": 0.5, "tha": 0.5})
    damaged = tmp_path / "ca-native" / protocol.tag / "seed0" / "metrics.json"
    damaged.write_text(damaged.read_text()[:100])
    out = build_report(tmp_path)
    assert str(damaged) in caplog.text
    systems = {r["system"] for r in read_csv(out / "table_test.csv")}
    assert systems == {"e2e-conv"}
