"""The core (``workbench/``) imports no modality package: speech, vision and cascade build on it.

The core reaches a modality's code only by name, through its registries
(:data:`workbench.predictor.PACKAGES`, :data:`workbench.data.sources.SIGNAL_CHECKS`), at the
moment a run or a corpus needs it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODALITY_PACKAGES = ("speech", "vision", "cascade", "apps")


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module's import statements name, at any depth (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_core_module_names_a_modality_package():
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & set(MODALITY_PACKAGES))
        for path in sorted((REPO / "workbench").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_loading_the_data_core_leaves_the_modality_packages_unimported():
    """Imports every ``workbench.data`` module in a fresh interpreter (transitive imports count too)."""
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import workbench.data\n"
        "for module in pkgutil.walk_packages(workbench.data.__path__, 'workbench.data.'):\n"
        "    importlib.import_module(module.name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {MODALITY_PACKAGES!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
