"""Shared test setup: offline, quiet, deterministic, and one tiny embedded corpus per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sys  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Property tests: a fast profile for every run (CI), a thorough one for a nightly run
# (HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_manifest_properties.py ...).
_PROFILE = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("fast", max_examples=200, **_PROFILE)
settings.register_profile("thorough", max_examples=5000, **_PROFILE)
settings.register_profile("mutation", max_examples=50, **_PROFILE)  # python -m tests.mutation: per mutant
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def _drop_unimportable_speechbrain_redirects() -> None:
    """speechbrain puts lazy redirect modules for optional integrations (k2...) in sys.modules;
    reading their ``__file__`` imports the integration and raises ImportError. Hypothesis scans
    sys.modules for constants and would fail any property test run after speechbrain was
    imported, so redirects that cannot import are taken out of sys.modules."""
    import speechbrain  # noqa: F401  (registers the redirects)

    for name, module in list(sys.modules.items()):
        if name.startswith("speechbrain") and type(module).__name__ in ("DeprecatedModuleRedirect", "LazyModule"):
            try:
                getattr(module, "__file__", None)
            except ImportError:
                del sys.modules[name]


_drop_unimportable_speechbrain_redirects()


def pytest_runtest_setup(item):
    # modules imported by earlier tests may have registered more redirects
    _drop_unimportable_speechbrain_redirects()


#: XLING_TEST_TIMES=FILE appends one line per test: wall seconds, CPU seconds of the test process and of
#: the child processes it waited for (load-independent, unlike the wall time), node id. Used to find what
#: makes the suite long (tests/README.md, "How long").
_TIMES = os.environ.get("XLING_TEST_TIMES")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _TIMES:
        yield
        return
    import resource
    import time

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    yield
    line = f"{time.perf_counter() - wall:.2f}\t{cpu() - used:.2f}\t{item.nodeid}\n"
    with open(_TIMES, "a") as out:  # one short append per test: whole lines even from parallel workers
        out.write(line)


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module of tiny models (a program run before it may have set the cores): a
    second thread only waits on the first, and on a CPU shared with other jobs for long."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A folder holding the tiny embedded corpus, built once per test session."""
    return tmp_path_factory.mktemp("embedded")


@pytest.fixture(scope="session")
def tiny_corpus(tiny_root):
    """The tiny embedded corpus (few languages of different scripts, few utterances)."""
    from speech.embedded import load_embedded
    from workbench.data.embedded import tiny_settings

    return load_embedded(tiny_settings(), tiny_root)


@pytest.fixture(scope="session")
def slurm_cluster():
    """The one-node SLURM cluster of ``scripts/slurm-local.sh`` (real slurmctld, slurmd, munge), up for
    the session; stopped afterwards when the session started it. Fails (never skips) when it cannot start."""
    import subprocess
    from pathlib import Path

    script = str(Path(__file__).resolve().parents[1] / "scripts" / "slurm-local.sh")
    was_up = subprocess.run(["bash", script, "status"], capture_output=True).returncode == 0
    subprocess.run(["bash", script, "start"], check=True)
    yield
    if not was_up:
        subprocess.run(["bash", script, "stop"], check=True)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache (``hub_replicas.py`` writes replicas into it), read offline, for this test only."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


#: markers of runs too long for the default suite: collected only when ``-m`` names them
#: (``python -m pytest -m scale ...``), so neither the full run nor the quick part starts them
OPT_IN_MARKERS = ("scale", "real_shape", "long")


#: tests sharing one machine-wide resource run in one xdist worker (``-n 2 --dist loadgroup``): the
#: session's SLURM cluster is started and stopped by the worker that holds it
SHARED_RESOURCE_FIXTURES = ("slurm_cluster",)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in SHARED_RESOURCE_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))
    chosen = config.getoption("markexpr") or ""
    left_out = [m for m in OPT_IN_MARKERS if m not in chosen]
    deselected = [item for item in items if any(item.get_closest_marker(m) for m in left_out)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
