"""The per-language table of vision runs, from run directories alone."""

from __future__ import annotations

from vision.report import main
from workbench.items import Item
from workbench.predictions import make_predictions
from workbench.protocols import Protocol
from workbench.runs import RunDir, RunInfo


def write_run(path, protocol, seed, correct):
    items = [Item(f"{lang}-{k}", f"c{k}", lang, 0, "test", image="x") for lang in ("eng", "rus") for k in range(2)]
    probs = [[0.9, 0.1] if correct[item.language] else [0.1, 0.9] for item in items]
    records = make_predictions(items, probs, "test", "vis-finetune", protocol.tag, seed)
    RunDir(path).write_results(records, RunInfo("vis-finetune", protocol, seed, ["a", "b"]))


def test_table_averages_seeds_marks_sources_and_lists_unfinished(tmp_path, capsys):
    write_run(tmp_path / "zs0", Protocol("zero_shot", ["eng"]), 0, {"eng": True, "rus": False})
    write_run(tmp_path / "zs1", Protocol("zero_shot", ["eng"]), 1, {"eng": True, "rus": True})
    write_run(tmp_path / "in", Protocol("in_language", ["rus"]), 0, {"eng": False, "rus": True})
    (tmp_path / "running").mkdir()
    text = main([str(p) for p in sorted(tmp_path.iterdir())])
    assert "| vis-finetune | zero_shot-eng | 2 | 100.0* | 50.0 |" in text
    assert "| vis-finetune | in_language (each) | 1 | 0.0* | 100.0* |" in text
    assert text.rstrip().endswith(f"unfinished: {tmp_path / 'running'}")
