"""Shared test setup: offline, quiet, deterministic, and one tiny embedded corpus per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A folder holding the tiny embedded corpus, built once per test session."""
    return tmp_path_factory.mktemp("embedded")


@pytest.fixture(scope="session")
def tiny_corpus(tiny_root):
    """The tiny embedded corpus (few languages of different scripts, few utterances)."""
    from workbench.data.embedded import load_embedded, tiny_settings

    return load_embedded(tiny_settings(), tiny_root)
