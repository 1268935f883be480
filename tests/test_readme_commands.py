"""Every command README.md prints in a ```bash block reaches its program's real parser exactly as printed.

The extractor reads README.md itself (continuation lines joined, comments dropped, ``&&`` chains
split, ``VAR=value`` prefixes kept as the environment, ``[-c x.yaml]`` run with and without), so a
new command, a moved config or a renamed program fails here. How each is run, and why:

- a training program (``speech.fit``, ``cascade.fit``, ``cascade.fit_asr``, ``cascade.fit_ocr``,
  ``vision.fit``, ``vision.fit_vlm``): its LightningCLI parses the printed arguments plus ``--print_config`` (every
  config file read and merged, every ``class_path`` imported and its ``init_args`` type-checked;
  nothing trained: the weights they name are not here). The shipped configs *run* with tiny
  stand-ins in ``tests/test_configs_*.py``;
- ``workbench.sweep``: the printed command with ``--dry-run`` (the sweep file expanded into its
  points and their GPU-hour estimate; running a grid is ``tests/test_sweep*.py``'s);
- ``speech.corpora prepare speechtaxi``: run in full, as printed, on a 28-language replica of the
  repository in a local hub cache (``HF_HUB_CACHE``, ``HF_HUB_OFFLINE=1``: the hub id is the real one);
- ``workbench.report``: run in full, as printed, on an (empty) sweep folder of that name;
- ``apps.demo``: its argument parser only (serving: ``tests/test_demo_*.py``);
- the mission's command, ``python -m speech.fit -c configs/speechtaxi.yaml``, and its resume: also
  trained whole in a fresh process on the replica, with a tiny random wav2vec2 saved in the hub
  cache under the real id ``facebook/mms-300m`` (plus ``--trainer.accelerator=cpu`` without a GPU);
- ``NOT_RUN``: the installer, the suite itself and the linter, which CI (``.ci/run``) runs.
"""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TRAINING = {
    "speech.fit",
    "cascade.fit",
    "cascade.fit_asr",
    "cascade.fit_ocr",
    "vision.fit",
    "vision.fit_vlm",
    "speech.speech_llm",
}
NOT_RUN = {  # printed, not run here: what CI runs around the suite
    "bash scripts/setup.sh": "installs apt and pip packages (CI's first step)",
    "python -m pytest -q": "the suite itself",
    "ruff check .": "the linter (.ci/run)",
    "ruff format --check .": "the formatter check (.ci/run)",
}
MISSION = ["python", "-m", "speech.fit", "-c", "configs/speechtaxi.yaml"]


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    heredoc: str | None = None  # the body written by ``cat > FILE <<'END'``

    @property
    def text(self) -> str:
        return " ".join([*(f"{k}={v}" for k, v in self.env.items()), *self.argv])


def logical_lines(block: str) -> list[tuple[str, str | None]]:
    """A block's commands as (line, heredoc body): continuation lines joined, heredoc bodies attached."""
    out, lines, pending = [], block.splitlines(), ""
    while lines:
        line = pending + lines.pop(0)
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        heredoc = re.search(r"<<'?(\w+)'?\s*$", line)
        if heredoc:
            end = lines.index(heredoc[1])
            out.append((line[: heredoc.start()], "\n".join(lines[:end]) + "\n"))
            lines = lines[end + 1 :]
        else:
            out.append((line, None))
    return out


def variants(argv: list[str]) -> list[list[str]]:
    """``[-c x.yaml]`` (an optional part, as the README writes it) without and with it."""
    start = next((i for i, t in enumerate(argv) if t.startswith("[-")), None)
    if start is None:
        return [argv]
    end = next(i for i in range(start, len(argv)) if argv[i].endswith("]"))
    inner = [argv[start][1:], *argv[start + 1 : end], argv[end][:-1]] if end > start else [argv[start][1:-1]]
    return [argv[:start] + argv[end + 1 :], argv[:start] + inner + argv[end + 1 :]]


def readme_commands(text: str) -> list[Command]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line, heredoc in logical_lines(block):
            tokens = shlex.split(line, comments=True)
            while tokens:
                cut = tokens.index("&&") if "&&" in tokens else len(tokens)
                part, tokens = tokens[:cut], tokens[cut + 1 :]
                env = {}
                while part and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", part[0]):
                    key, value = part.pop(0).split("=", 1)
                    env[key] = value
                commands += [Command(argv, env, heredoc) for argv in variants(part)]
    return commands


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_extractor_finds_every_block_and_program():
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        assert readme_commands(f"```bash\n{block}```"), f"no command found in:\n{block}"
    programs = {c.argv[2] for c in COMMANDS if c.argv[:2] == ["python", "-m"]}
    assert TRAINING | {"workbench.sweep", "workbench.report", "speech.corpora", "apps.demo"} <= programs
    assert any(c.argv == MISSION for c in COMMANDS), "the mission's command is not printed as typed"
    assert any(c.heredoc and c.argv[:2] == ["cat", ">"] for c in COMMANDS)
    assert len(COMMANDS) >= 30


def test_every_config_the_readme_names_exists():
    named = set(re.findall(r"configs/[\w/.-]+?\.yaml", README.read_text(encoding="utf-8")))
    assert "configs/speechtaxi.yaml" in named
    assert [path for path in sorted(named) if not (REPO / path).is_file()] == []


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """A working folder with the repository's configs, as a user's checkout has them."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "configs").symlink_to(REPO / "configs")
    for command in COMMANDS:  # files the README's commands write for the others (my_data.yaml)
        if command.heredoc and command.argv[:2] == ["cat", ">"]:
            (folder / command.argv[2]).write_text(command.heredoc)
    return folder


@pytest.fixture(scope="module")
def speechtaxi_hub(tmp_path_factory) -> Path:
    """All 28 SpeechTaxi languages (5 verses each) as the cached snapshot of LennartKeller/SpeechTaxi."""
    from speech.speechtaxi import LANGUAGES
    from tests.helpers.speechtaxi_replica import speechtaxi_sized

    cache = tmp_path_factory.mktemp("hub")
    speechtaxi_sized(cache, languages=LANGUAGES, verses=5, seconds=0.5)
    return cache


def run_training_parser(module: str, args: list[str], capsys) -> dict:
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_:
        main(args if "--print_config" in args else [*args, "--print_config"])
    out = capsys.readouterr()
    assert exit_.value.code in (0, None), out.err[-2000:]
    return yaml.safe_load(out.out)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.text[:110])
def test_readme_command_as_printed(command, sandbox, speechtaxi_hub, monkeypatch, capsys, request):
    monkeypatch.chdir(sandbox)
    for key, value in command.env.items():
        monkeypatch.setenv(key, value)
    argv = command.argv
    if command.text in NOT_RUN:
        return
    if command.heredoc is not None:
        assert argv[:2] == ["cat", ">"] and (sandbox / argv[2]).read_text() == command.heredoc
        return
    if argv[:2] == ["bash", "scripts/slurm-local.sh"]:  # the real one-node cluster, started as printed
        request.getfixturevalue("slurm_cluster")  # stopped after the session if the session started it
        assert subprocess.run([*argv[:1], str(REPO / argv[1]), *argv[2:]]).returncode == 0
        return
    assert argv[:2] == ["python", "-m"], f"README command not covered by this test: {command.text}"
    module, args = argv[2], argv[3:]
    if module in TRAINING:
        config = run_training_parser(module, args, capsys)
        assert config["trainer"] and config["data"]
    elif module == "workbench.sweep":
        from workbench.sweep.__main__ import main

        assert main([*args, *([] if "--dry-run" in args else ["--dry-run"])]) == 0
        assert re.search(r"^estimated GPU hours: \d+", capsys.readouterr().out, re.M)
    elif module == "speech.corpora" and args[:2] == ["prepare", "speechtaxi"]:
        import huggingface_hub.constants as constants

        monkeypatch.setenv("HF_HUB_CACHE", str(speechtaxi_hub))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(speechtaxi_hub))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        from speech.corpora import main

        assert main(args) == 0
        assert re.search(r"\(140 items, 0 skipped\)", capsys.readouterr().out)
    elif module == "workbench.report":
        from workbench.report.__main__ import main

        (sandbox / args[0]).mkdir(parents=True, exist_ok=True)
        assert main(args) == 0 and (sandbox / args[0] / "report" / "report.md").is_file()
    elif module == "apps.demo":
        from apps.demo import parse_args

        parse_args(args)
    elif module == "vision.retrieval":  # configs merged and type-checked; runs: tests/test_retrieval.py
        from vision.retrieval import parser

        parser().parse_args(args)
    elif module == "speech.probe":  # arguments parsed and type-checked; runs: tests/test_probe.py
        from speech.probe import parser

        parser().parse_args(args)
    else:
        pytest.fail(f"README command not covered by this test: {command.text}")


def hub_model(cache: Path, repo_id: str, folder: Path) -> None:
    """``folder``'s files as the cached ``main`` snapshot of model ``repo_id``, which ``from_pretrained`` reads."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0" * 40
    for file in folder.iterdir():
        (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
        (repo / "snapshots" / commit / file.name).write_bytes(file.read_bytes())
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)


@pytest.mark.slow  # two real trainings in fresh processes (about a minute on 2 idle cores)
def test_the_mission_command_trains_and_resumes(sandbox, speechtaxi_hub, tmp_path):
    """``python -m speech.fit -c configs/speechtaxi.yaml`` run whole, then resumed, as the README prints them.

    Only the hub differs: ``HF_HUB_CACHE`` holds SpeechTaxi's replica (28 languages) and a tiny random
    wav2vec2 (``tests/helpers/speech_stand_ins.py``) under the real id ``facebook/mms-300m``, offline. Without a GPU one
    argument is added, ``--trainer.accelerator=cpu`` (bf16-mixed stays: CPU autocast runs it).
    """
    import os
    import subprocess
    import sys

    from tests.helpers.speech_stand_ins import tiny_hf

    hub_model(speechtaxi_hub, "facebook/mms-300m", Path(tiny_hf(tmp_path / "mms", "wav2vec2")))
    env = {**os.environ, "HF_HUB_CACHE": str(speechtaxi_hub), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    import torch

    cpu = [] if torch.cuda.is_available() else ["--trainer.accelerator=cpu"]
    resume = next(c.argv for c in COMMANDS if "--ckpt_path" in c.argv and c.argv[:5] == MISSION)
    for argv in (MISSION, resume):
        result = subprocess.run([sys.executable, *argv[1:], *cpu], cwd=sandbox, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
    metrics = yaml.safe_load((sandbox / "runs" / "speechtaxi" / "metrics.json").read_text())
    assert metrics["record"]["system"] == "e2e-mms" and metrics["splits"]["test"]["overall"]["n"] > 0
