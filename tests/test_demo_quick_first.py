"""The demo's first minutes: quick recipes serve both speech paths, then both vision paths, then the full
recipes replace them.

The browser test starts ``python -m apps.demo`` in a fresh copy of the tree (tracked and new files, no
``runs/``, no ``data/``) with every recipe made tiny through ``--train-arg`` (the quick ones without a dev
check, so the full recipe's run, which has one, is the better), and checks in Chromium that both speech paths
classify an example clip and both vision paths an example image with the quick models (trained speech's first,
then vision's, before any full recipe), then serve the full ones once they are trained. The time to
the first answer on the real quick recipes is a benchmark (``benchmarks/README.md``), not an assertion here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apps.progress import read_progress
from apps.service import Service
from apps.training import default_jobs
from benchmarks.demo_first_answer import fresh_copy
from tests.helpers.demo import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LABELS,
    answers,
    free_port,
    need_chromium,
    stop,
    tiny_extra,
    train_args,
    wait_for,
)
from workbench.data.embedded import EmbeddedSettings

REPO = Path(__file__).resolve().parents[1]
QUICK = ("e2e-quick", "asr-quick", "cascade-quick")
VISION_QUICK = ("vision-quick", "ocr-quick")


def start_in(tree: Path, port: int, args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (tree / "demo.log").open("w")
    command = [sys.executable, "-m", "apps.demo", "--port", str(port), *args]
    return subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)


# per tab: the probabilities and latencies of its two paths
OUTPUTS = {
    "Speech": (("#e2e-probs", "#cascade-probs"), ("#e2e-latency", "#cascade-latency")),
    "Vision": (("#vision-native", "#ocr-probs"), ("#vision-latency", "#ocr-latency")),
}


def classify_rus(page, expect, tab: str) -> None:
    """On ``tab``, pick the Russian example and classify it: both paths answer."""
    page.get_by_role("tab", name=tab).click()
    prefix = tab.lower()
    page.locator(f"#{prefix}-examples").get_by_text("rus: ").first.click()
    expect(page.locator(f"#{prefix}-language input")).to_have_value("rus", timeout=30_000)
    page.locator(f"#{prefix}-run").click()
    probabilities, latencies = OUTPUTS[tab]
    for probs in probabilities:
        for label in LABELS:
            expect(page.locator(probs)).to_contain_text(label, timeout=60_000)
    for latency in latencies:
        expect(page.locator(f"{latency} textarea")).to_have_value(re.compile(r"^\d+ ms$"), timeout=60_000)


def expect_served(page, expect, tab: str, paths: dict[str, str], tier: str) -> None:
    """On ``tab``, each path (``{state element id prefix: run dropdown id}``) serves the demo's ``tier``
    recipe of its run, and its dropdown shows that run."""
    page.get_by_role("tab", name=tab).click()
    for prefix, dropdown in paths.items():
        run = f"{prefix}-quick" if tier == "quick" else prefix
        state = page.locator(f"#{prefix}-state")
        expect(state).to_contain_text(re.compile(rf"serving .*demo/{run}\).*{tier} recipe"), timeout=600_000)
        expect(page.locator(f"#{dropdown} input")).to_have_value(re.compile(rf"demo/{run}\)$"))


SPEECH_PATHS = {"e2e": "e2e-run", "cascade": "cascade-run"}
VISION_PATHS = {"vision": "vision-run-name", "ocr": "ocr-run"}


@pytest.mark.long
@pytest.mark.timeout(1800)  # ten trainings, two at a time (tiny, but each a process): a busy machine stretches it
def test_quick_recipes_serve_every_path_then_the_full_ones_replace_them(tmp_path, tiny_root, tiny_corpus):
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    tree = fresh_copy(tmp_path / "clone")
    assert not (tree / "runs").exists() and not (tree / "data").exists()
    extra = tiny_extra(tmp_path / "corpus", tmp_path / "digits")
    for name in QUICK + VISION_QUICK:  # no dev check in a quick recipe: the full recipe's run (dev known) replaces it
        extra[name] = ["--trainer.val_check_interval=1.0", "--trainer.check_val_every_n_epoch=1"]
        extra[name] += ["--trainer.limit_val_batches=0", "--data.source.init_args.per_language=null"]  # tiny corpus
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    demo = start_in(tree, port, train_args(extra))
    try:
        wait_for(lambda: answers(url) or demo.poll() is not None, timeout=180, what="the page")
        assert demo.poll() is None, (tree / "demo.log").read_text()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                expect_served(page, expect, "Speech", SPEECH_PATHS, "quick")
                expect(page.locator("#speech-examples")).to_contain_text("rus: ", timeout=60_000)
                classify_rus(page, expect, "Speech")
                # the quick vision recipes come next, then the full recipes replace every quick one
                expect_served(page, expect, "Vision", VISION_PATHS, "quick")
                expect(page.locator("#vision-examples")).to_contain_text("rus: ", timeout=60_000)
                classify_rus(page, expect, "Vision")
                expect_served(page, expect, "Speech", SPEECH_PATHS, "full")
                classify_rus(page, expect, "Speech")
                expect_served(page, expect, "Vision", VISION_PATHS, "full")
                classify_rus(page, expect, "Vision")
            finally:
                browser.close()
        log = (tree / "demo.log").read_text()
        assert all(f"{kind} now serves" in log for kind in (*SPEECH_PATHS, *VISION_PATHS)), log[-3000:]
        trained = re.findall(r"\[demo\] training (\S+?)(?: \(resuming\))?: ", log)
        assert trained[: len(QUICK + VISION_QUICK)] == [*QUICK, *VISION_QUICK], trained
    finally:
        stop(demo)


def finished_run(run_dir: Path, best_dev: float | None, monitor: str = "val/acc") -> Path:
    """A run directory as far as the demo's choice reads it: its record's training (monitor, best dev)."""
    from workbench.record import ProtocolRecord, RunRecord, TrainingRecord
    from workbench.runs import RunDir

    protocol = ProtocolRecord("all_languages", [], ["eng"])
    training = TrainingRecord(monitor=monitor, best_dev=best_dev)
    RunDir(run_dir).write(RunRecord("e2e", "speech", "e2e-conv", protocol, 0, ["a", "b"], training=training), [])
    return run_dir


class FakeRegistry:
    """The registry's order of runs, without loading models (the choice of the served run is under test)."""

    def __init__(self, runs: list[Path]):
        self.order = [str(run) for run in runs]

    def served(self, kind):
        return self.order[0]

    def names(self, kind):
        return list(self.order)

    def run_dir(self, kind, name):
        return Path(name)

    def promote(self, kind, name):
        self.order = [name] + [n for n in self.order if n != name]


def test_the_full_recipe_replaces_the_quick_one_only_when_not_worse(tmp_path):
    cases = [  # quick's dev, full's dev, monitor, served afterwards
        (0.50, 0.70, "val/acc", "e2e"),
        (0.70, 0.50, "val/acc", "e2e-quick"),
        (0.60, 0.60, "val/acc", "e2e"),  # a tie: the full recipe is the reference
        (None, 0.40, "val/acc", "e2e"),  # the quick one has no dev score
        (0.30, 0.20, "val/cer", "e2e"),  # lower is better
        (0.20, 0.30, "val/cer", "e2e-quick"),
    ]
    for number, (quick, full, monitor, served) in enumerate(cases):
        folder = tmp_path / str(number)
        service = Service([], base=folder, train=False, say=lambda line: None)  # its jobs' run dirs: folder/<name>
        runs = [finished_run(folder / "e2e-quick", quick, monitor), finished_run(folder / "e2e", full, monitor)]
        service.registry = FakeRegistry(runs)
        service._serve_better("e2e", str(runs[1]))
        assert Path(service.registry.served("e2e")).name == served, (quick, full, monitor)


def test_progress_counts_steps_of_the_step_budget(tmp_path):
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)
    (run / "config.yaml").write_text("trainer:\n  max_steps: 900\n  max_epochs: null\n")
    rows = ["epoch,step,val/acc", "0,9,", "0,19,", "0,29,0.5"]
    (run / "logs" / "metrics.csv").write_text("\n".join(rows) + "\n")
    progress = read_progress(run)
    assert progress.total_steps == 900 and progress.describe().startswith("epoch 1 · step 30/900")


def test_quick_recipes_come_first_speech_then_vision_and_take_the_quick_overlays(tmp_path):
    jobs = default_jobs(tmp_path, quick_first=True, extra={"e2e": ["--x=1"], "e2e-quick": ["--y=2"], "ocr": ["--z"]})
    names = [job.name for job in jobs]
    quick = {job.name: job for job in jobs if job.tier == "quick"}
    # speech's quick recipes, then vision's, then every full recipe (the first full one: the speech E2E)
    assert names[: len(QUICK + VISION_QUICK) + 1] == [*QUICK, *VISION_QUICK, "e2e"]
    assert set(quick) == set(QUICK + VISION_QUICK)
    served = {job.kind for job in jobs if job.kind}
    assert {job.kind for job in quick.values() if job.kind} == served  # a quick recipe for every path of the page
    assert all(Path(job.configs[-1]).name == f"{job.name.replace('-', '_')}.yaml" for job in quick.values())
    assert all(Path(job.configs[-1]).is_file() for job in quick.values())
    full = {job.name: job for job in jobs if job.tier == "full"}
    for name, job in quick.items():  # each quick recipe is its full recipe's configs plus its overlay
        assert job.configs[:-1] == full[name.removesuffix("-quick")].configs, name
    assert quick["e2e-quick"].args[-2:] == ["--x=1", "--y=2"] and "--y=2" not in full["e2e"].args
    assert quick["ocr-quick"].args[-1] == "--z"
    assert f"checkpoint={tmp_path / 'asr-quick'}" in " ".join(quick["cascade-quick"].args)
    # the quick speech recipes share one smaller build of the embedded corpus (the build is most of the first minutes)
    sizes = {yaml.safe_load(Path(quick[name].configs[-1]).read_text())["data"]["source"]["init_args"]["per_language"]
             for name in QUICK}  # fmt: skip
    assert len(sizes) == 1 and sizes.pop() < EmbeddedSettings().per_language
    assert sorted(p.name for p in (REPO / "configs/embedded/demo").glob("*.yaml")) == sorted(
        f"{name.replace('-', '_')}.yaml" for name in quick
    )  # every shipped quick overlay is one of the demo's recipes


@pytest.mark.parametrize("kind", ["vision", "ocr"])
def test_the_vision_tab_serves_the_quick_run_then_the_full_one_once_ready(tmp_path, kind):
    """The Vision tab's path line: the quick recipe's run and its dev score, then the full recipe's once it
    is ready and not worse (the demo's jobs name which run is which recipe)."""
    service = Service([], base=tmp_path, train=False, say=lambda line: None)
    quick, full = finished_run(tmp_path / f"{kind}-quick", 0.3), finished_run(tmp_path / kind, 0.5)
    service.registry = FakeRegistry([quick])
    assert re.search(rf"serving .*/{kind}-quick · quick recipe · dev val/acc 0.300$", service.path_status(kind))
    service.registry.order.append(str(full))  # the full recipe's run is trained and loaded
    service._serve_better(kind, str(full))
    assert re.search(rf"serving .*/{kind} · full recipe · dev val/acc 0.500$", service.path_status(kind))
