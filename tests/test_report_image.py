"""Image runs in the report: their own ladder (gold -> OCR native -> OCR romanized -> E2E), tests and
figures, beside speech runs that share a system name, never compared or counted with them."""

from __future__ import annotations

import csv

import pytest

from tests.helpers.report_runs import item_rows, write_run
from workbench.report.build import build_report

# per system: (modality, path, text, share right per language, OCR/ASR CER)
SYSTEMS = {
    "img-e2e": ("image", "e2e", None, {"eng": 0.9, "rus": 0.5}, None),
    "tess-native": ("image", "cascade", "native", {"eng": 0.8, "rus": 0.7}, 0.1),
    "ca-romanized": ("image", "cascade", "romanized", {"eng": 0.7, "rus": 0.6}, 0.25),
    # speech: an E2E and a cascade of the same name as the image one, other results
    "e2e-conv": ("speech", "e2e", None, {"eng": 0.6, "rus": 0.3}, None),
    "ca-romanized ": ("speech", "cascade", "romanized", {"eng": 0.4, "rus": 0.4}, 0.6),
}
N = 20  # test items per language


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for key, (modality, path, text, accuracy, cer) in SYSTEMS.items():
        system = key.strip()
        for seed in (0, 1):
            rows = []
            for lang, share in accuracy.items():
                right = round(share * N) - seed  # the seeds differ by one item per language
                rows += item_rows(lang, [k < right for k in range(N)], transcript="x" if cer else None)
            write_run(
                root / modality / system / f"seed{seed}", rows, path=path, system=system, modality=modality,
                sources=["eng"], seed=seed, script=text,
                asr={"test": {lang: (cer, 2 * cer) for lang in accuracy}} if cer else None,
                gold={"test": {lang: 0.95 for lang in accuracy}} if cer else None,
            )  # fmt: skip
    return build_report(root)


def test_image_ladder_climbs_from_gold_text_to_e2e_with_the_ocr_error_rates(report):
    ladder = [r for r in read_csv(report / "ladder_test.csv") if r["modality"] == "image"]
    for lang in ("eng", "rus"):
        rungs = sorted((r for r in ladder if r["language"] == lang), key=lambda r: int(r["rung"]))
        assert [r["system"] for r in rungs] == [
            "tess-native:gold", "ca-romanized:gold", "tess-native", "ca-romanized", "img-e2e",
        ]  # fmt: skip
        cer = {r["system"]: r["cer"] for r in rungs}
        assert cer["tess-native"] == "0.1" and cer["ca-romanized"] == "0.25"  # the image run's, not the speech one's
        accuracy = {r["system"]: float(r["accuracy"]) for r in rungs}
        expected = SYSTEMS["img-e2e"][3][lang] - 0.5 / N  # mean of the two seeds
        assert accuracy["img-e2e"] == pytest.approx(expected)
    speech = [r for r in read_csv(report / "ladder_test.csv") if r["modality"] == "speech"]
    assert {r["system"] for r in speech} == {"ca-romanized:gold", "ca-romanized", "e2e-conv"}
    assert {r["cer"] for r in speech if r["system"] == "ca-romanized"} == {"0.6"}


def test_significance_pairs_within_a_modality_only(report):
    pairs = {(r["modality"], r["e2e"], r["cascade"]) for r in read_csv(report / "significance_test.csv")}
    assert pairs == {
        ("image", "img-e2e", "tess-native"),
        ("image", "img-e2e", "ca-romanized"),
        ("speech", "e2e-conv", "ca-romanized"),
    }
    rows = read_csv(report / "significance_test.csv")
    image = next(r for r in rows if r["e2e"] == "img-e2e" and r["cascade"] == "ca-romanized" and r["language"] == "eng")
    assert int(image["n"]) == N and image["seeds_e2e"] == image["seeds_ca"] == "2"
    assert float(image["diff"]) == pytest.approx(0.9 - 0.7)


def test_a_shared_system_name_is_two_systems_not_a_duplicate(report):
    warnings = read_csv(report / "warnings.csv")
    assert not [w for w in warnings if w["check"] in ("duplicate", "seeds")], warnings
    table = read_csv(report / "table_test.csv")
    mean = {(r["modality"], r["language"]): float(r["accuracy_mean"]) for r in table if r["system"] == "ca-romanized"}
    assert mean[("image", "eng*")] > mean[("speech", "eng*")]
    for name in ("heatmap_ca-romanized.png", "heatmap_ca-romanized_image.png", "reliability_img-e2e_image.png"):
        assert (report / name).is_file(), name
    assert (report / "protocol_averages.png").is_file() and (report / "protocol_averages_image.png").is_file()
    md = (report / "report.md").read_text(encoding="utf-8")
    assert "Modalities: image, speech." in md
    ladder = md.split("## Headroom ladder")[1].split("## E2E vs cascade")[0]
    assert "### zero_shot-eng (image)" in ladder and "### zero_shot-eng (speech)" in ladder
