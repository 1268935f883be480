"""The per-language table of vision runs, from run directories alone (read by their run record)."""

from __future__ import annotations

from tests.helpers.report_runs import write_run
from vision.report import main


def rows(correct: dict[str, bool]) -> list[dict]:
    out = []
    for lang in ("eng", "rus"):
        for k in range(2):
            probs = [0.9, 0.1] if correct[lang] else [0.1, 0.9]
            out.append(
                {
                    "id": f"{lang}-{k}",
                    "content_id": f"c{k}",
                    "language": lang,
                    "split": "test",
                    "label": 0,
                    "pred": 0 if correct[lang] else 1,
                    "probs": probs,
                }
            )
    return out


def run(path, protocol, sources, seed, correct):
    write_run(
        path, rows(correct), path="e2e", system="vis-finetune", modality="image", protocol=protocol,
        sources=sources, seed=seed, classes=2,
    )  # fmt: skip


def test_table_averages_seeds_marks_sources_and_lists_unfinished(tmp_path, capsys):
    run(tmp_path / "zs0", "zero_shot", ["eng"], 0, {"eng": True, "rus": False})
    run(tmp_path / "zs1", "zero_shot", ["eng"], 1, {"eng": True, "rus": True})
    run(tmp_path / "in", "in_language", ["rus"], 0, {"eng": False, "rus": True})
    (tmp_path / "running").mkdir()
    text = main([str(p) for p in sorted(tmp_path.iterdir())])
    assert "| vis-finetune | zero_shot-eng | 2 | 100.0* | 50.0 |" in text
    # An in-language run is the in-language result of its own language only: the eng cell of a run
    # trained on rus is not an in-language result (it was shown as "0.0*" before, starred as if it were).
    assert "| vis-finetune | in_language (each) | 1 |  | 100.0* |" in text
    assert text.rstrip().endswith(f"unfinished: {tmp_path / 'running'}")


def test_runs_without_a_record_are_named_not_guessed(tmp_path):
    run(tmp_path / "new", "zero_shot", ["eng"], 0, {"eng": True, "rus": False})
    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.json").write_text('{"system": "vis-finetune", "protocol": "zero_shot", "splits": {}}')
    text = main([str(tmp_path / "new"), str(old)])
    assert "| vis-finetune | zero_shot-eng | 1 | 100.0* | 0.0 |" in text
    assert f"skipped: {old} ({old / 'metrics.json'} field 'record': no run record" in text
