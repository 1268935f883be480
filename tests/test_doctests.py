"""Every example in a docstring of the product packages is run and true.

The examples are part of the contract (a unit, a shape, a hand-computable case such as
``calibration.ece``'s); left unrun they can go stale, and an example that would catch a bug
catches nothing. Modules are found by their ``>>>`` lines, so a new example is run without
listing it here.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "speech", "cascade", "vision", "apps")


def modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>>" in path.read_text(encoding="utf-8"):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_are_true(name, capsys):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name}: its '>>>' lines are not in a docstring doctest finds"
    assert result.failed == 0, capsys.readouterr().out
