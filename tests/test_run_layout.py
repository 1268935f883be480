"""One owner of the run directory's layout: ``workbench/runs.py`` (:class:`~workbench.runs.RunDir`).

Every other product module reaches a run's config, checkpoints, predictions, transcripts and
metrics through ``RunDir``; none spells a file name of the layout in its code (docstrings and
comments may name them for the reader). A module that writes ``run_dir / "metrics.json"``
again fails here, naming the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from workbench import runs

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("workbench", "speech", "cascade", "vision", "apps", "benchmarks")
OWNER = ROOT / "workbench" / "runs.py"
# every name of the layout, as runs.py spells it
LAYOUT = (
    runs.CONFIG,
    runs.PREDICTIONS,
    runs.DEV_PREDICTIONS,
    runs.TRANSCRIPTS,
    runs.METRICS,
    f"{runs.BEST}.ckpt",
    f"{runs.LAST}.ckpt",
    f"{runs.CHECKPOINTS}/",
)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def layout_literals(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: literal`` of every string in the code of ``path`` that names a layout file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
            if text == runs.CHECKPOINTS or any(name in text for name in LAYOUT):
                out.append(f"{path.relative_to(root)}:{node.lineno}: {text!r}")
    return out


def test_the_run_layout_is_spelled_in_runs_py_alone():
    files = sorted(p for package in PRODUCT for p in (ROOT / package).rglob("*.py") if p != OWNER)
    assert len(files) > 100  # the whole product was searched
    offenders = [hit for path in files for hit in layout_literals(path)]
    assert offenders == [], "layout names outside workbench/runs.py (use RunDir):\n" + "\n".join(offenders)


def test_the_search_finds_a_layout_name_in_code_but_not_in_a_docstring(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('"""Writes metrics.json."""\n\n\ndef f(run_dir):\n    return run_dir / "metrics.json"\n')
    assert layout_literals(module, tmp_path) == ["module.py:5: 'metrics.json'"]
