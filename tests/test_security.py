"""Static checks over the project's code: no unpickling of untrusted files, no remote code by default."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "speech", "cascade", "vision", "apps", "benchmarks")


def calls(name: str):
    """Every call whose callee ends in ``name`` (``torch.load``, ``pickle.loads``...) in the packages."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    callee = ast.unparse(node.func)
                    if callee == name or callee.endswith("." + name):
                        yield path.relative_to(ROOT), node


def keyword(node: ast.Call, name: str):
    return next((k.value for k in node.keywords if k.arg == name), None)


def test_torch_load_only_with_weights_only():
    offenders = []
    for path, node in calls("torch.load"):
        value = keyword(node, "weights_only")
        if not (isinstance(value, ast.Constant) and value.value is True):
            offenders.append(f"{path}:{node.lineno}")
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


def test_no_pickle():
    offenders = [f"{p}:{n.lineno}" for name in ("pickle.load", "pickle.loads", "dill.load") for p, n in calls(name)]
    assert not offenders, f"unpickling found: {offenders}"


def test_trust_remote_code_never_hard_wired_on():
    offenders = []
    for call in ("from_pretrained", "load_dataset", "pipeline"):
        for path, node in calls(call):
            value = keyword(node, "trust_remote_code")
            if isinstance(value, ast.Constant) and value.value is True:
                offenders.append(f"{path}:{node.lineno}")
    assert not offenders, f"trust_remote_code=True hard-wired: {offenders}"
