"""No unpickling of untrusted files, no remote code by default.

Static checks over the code (every call that takes ``weights_only``, through any alias), and
the same guarantee by behaviour: every path that reads a checkpoint is handed a crafted
pickle whose loading would create a file, and must refuse it without creating the file.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from workbench.predictor import PACKAGES as PREDICTOR_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "speech", "cascade", "vision", "apps", "benchmarks")
TREE = (*PACKAGES, "tests")


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


def is_true(value) -> bool:
    return isinstance(value, ast.Constant) and value.value is True


def python_files(folders=PACKAGES):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


LOADER_MODULES = ("torch", "torch.serialization")  # each has a ``load`` that unpickles


def load_aliases(tree: ast.Module) -> set[str]:
    """Every name a module can call ``torch.load`` by: ``torch.load``, a module alias
    (``import torch as T`` -> ``T.load``; ``import torch.serialization as S``, ``from torch import
    serialization``), an imported name (``from torch import load as L``) and any chain of
    assignments from those (``L = T.load``, ``M: Any = L``)."""
    modules = set(LOADER_MODULES)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name in LOADER_MODULES and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module in LOADER_MODULES:
            names |= {a.asname or a.name for a in node.names if a.name == "load"}
            modules |= {a.asname or a.name for a in node.names if f"{node.module}.{a.name}" in LOADER_MODULES}
    names |= {f"{module}.load" for module in modules}
    assignments = [n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign) and n.value is not None]
    while True:  # until no assignment adds a name: aliases of aliases
        found = {
            ast.unparse(target)
            for n in assignments
            if ast.unparse(n.value) in names
            for target in (n.targets if isinstance(n, ast.Assign) else [n.target])
        }
        if found <= names:
            return names
        names |= found


def unsafe_reads(path: Path, tree: ast.Module) -> list[str]:
    """Calls passing ``weights_only`` other than True, and checkpoint reads without it (outside tests/)."""
    offenders = []
    aliases = load_aliases(tree)
    for node in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        callee = ast.unparse(node.func)
        value = keyword(node, "weights_only")
        reads = callee in aliases or callee.split(".")[-1] == "load_from_checkpoint"
        trainer_call = callee.split(".")[-1] in ("fit", "test", "validate", "predict")
        reads = reads or (trainer_call and keyword(node, "ckpt_path") is not None)
        if (value is not None or (reads and path.parts[0] != "tests")) and not is_true(value):
            offenders.append(f"{path}:{node.lineno} {callee}")
    return offenders


def test_every_weights_only_is_true_and_every_checkpoint_read_sets_it():
    """Any call passing ``weights_only`` passes True (anywhere in the tree, tests included); every
    call to torch.load (by any alias), ``load_from_checkpoint`` and a Trainer method given a
    ``ckpt_path`` passes ``weights_only=True``."""
    offenders = [offender for path, tree in python_files(TREE) for offender in unsafe_reads(path, tree)]
    assert not offenders, f"checkpoint reads without weights_only=True: {offenders}"


ALIASED_LOADS = {
    "plain": "import torch\ntorch.load(p)",
    "module alias": "import torch as T\nT.load(p)",
    "imported name": "from torch import load as read\nread(p)",
    "assigned": "import torch\nread = torch.load\nread(p)",
    "assigned from a module alias": "import torch as T\nread = T.load\nread(p)",
    "alias of an alias": "from torch import load\nfirst = load\nsecond: object = first\nsecond(p)",
    "serialization module": "import torch.serialization as S\nS.load(p)",
    "serialization imported": "from torch import serialization\nserialization.load(p)",
    "serialization's load": "from torch.serialization import load as L\nL(p)",
    "attribute target": "import torch\nself.read = torch.load\nself.read(p)",
}


@pytest.mark.parametrize("source", ALIASED_LOADS.values(), ids=ALIASED_LOADS.keys())
def test_the_static_check_sees_through_aliases(source):
    """The checker itself: each way of reaching ``torch.load`` is a read, flagged without
    ``weights_only=True`` and accepted with it."""
    path = Path("workbench/x.py")
    assert len(unsafe_reads(path, ast.parse(source))) == 1
    assert unsafe_reads(path, ast.parse(source.replace("(p)", "(p, weights_only=True)"))) == []


def test_no_weights_only_false_anywhere():
    needle = "weights_only=" + "False"  # spelled apart, so this file does not match itself
    found = [p for folder in TREE for p in (ROOT / folder).rglob("*.py") if needle in p.read_text()]
    assert found == [], found


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


# -- by behaviour ------------------------------------------------------------------------------
class Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do instead."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def crafted(tmp_path):
    """``(checkpoint path, marker path)``: a Lightning-shaped checkpoint carrying a payload."""
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.ckpt"
    payload = Payload(marker)
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"symbols": ["a"]}, "x": payload}, path)
    return path, marker


def refused(call, marker: Path) -> None:
    with pytest.raises(Exception, match="(?i)weights.only|unsupported global|unpickl"):
        call()
    assert not marker.exists(), "the payload ran"


def fake_run(root: Path, path: str, modality: str, checkpoint: Path) -> Path:
    """A run directory of ``path`` on ``modality`` whose best checkpoint is the crafted file."""
    from workbench.record import ProtocolRecord, RunRecord
    from workbench.runs import RunDir

    run = RunDir(root / f"{path}-{modality}")
    run.checkpoints.mkdir(parents=True)
    run.best.write_bytes(checkpoint.read_bytes())
    record = RunRecord(path, modality, path, ProtocolRecord("in_language", ["eng"], ["eng"]), 0, ["a", "b"])
    config = {"model": {"encoder": "speech.encoders.conv.ConvEncoder", "model": None}, "data": {}}
    run.config_path.write_text(json.dumps(config))
    run.write(record, [])
    return run.path


@pytest.mark.parametrize("path, modality", list(PREDICTOR_PACKAGES))
def test_load_run_refuses_a_pickle_payload(path, modality, crafted, tmp_path):
    from workbench.predictor import load_run

    checkpoint, marker = crafted
    run = fake_run(tmp_path / "runs", path, modality, checkpoint)
    refused(lambda: load_run(run), marker)


def test_every_other_checkpoint_reader_refuses_a_pickle_payload(crafted, tmp_path):
    from cascade.ctc import CTCRecognizer
    from cascade.recognizers import CTCCheckpointRecognizer
    from speech.cache import EncoderCache
    from speech.encoders.conv import ConvEncoder
    from speech.encoders.init import read_state_dict
    from vision.model import load_clip
    from workbench.predictor import load_state

    path, marker = crafted
    refused(lambda: load_state(path), marker)
    refused(lambda: read_state_dict(path), marker)  # model.init_from
    refused(lambda: CTCCheckpointRecognizer(str(path)), marker)  # data.recognizer of a cascade
    refused(lambda: CTCRecognizer.load_from_checkpoint(str(path), weights_only=True), marker)  # fit_asr's best
    refused(lambda: load_clip("wb-tiny", pretrained=str(path)), marker)  # model.pretrained of vision
    # the frozen-encoder cache treats an unreadable entry as missing: recomputed, never unpickled
    cache = EncoderCache(str(tmp_path / "cache"), ConvEncoder(dim=8, num_blocks=1), all_layers=False)
    cache.path("ab" * 8).parent.mkdir(parents=True)
    cache.path("ab" * 8).write_bytes(path.read_bytes())
    assert cache.read("ab" * 8) is None and not marker.exists()


def test_resuming_a_program_refuses_a_pickle_payload(crafted, tiny_root, tiny_corpus, tmp_path):
    from speech.fit import main

    path, marker = crafted
    args = ["-c", str(ROOT / "configs/embedded/speech.yaml"), f"--data.source.init_args.root={tiny_root}"]
    args += ["--data.source.init_args.tiny=true", "--model.encoder.init_args.dim=16"]
    args += ["--model.encoder.init_args.num_blocks=1", "--trainer.logger=false", "--threads=1"]
    args += [f"--run_dir={tmp_path / 'run'}", f"--ckpt_path={path}", "--trainer.enable_progress_bar=false"]
    refused(lambda: main(args), marker)
