"""Example inputs for the page: one test clip and one test image per language of the corpus (every
embedded language), copied into ``<base>/examples/`` (the one folder the page may serve them from).

The corpus is that of a served run, or the embedded default once the first training has built it:
the demo never builds a corpus itself (that would race the training child building the same).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

DEFAULT_SPEECH_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "embedded" / "speech.yaml"


@dataclass
class Example:
    """One example: the copied file, its language and the label shown on it."""

    path: str
    language: str
    label: str


def source_of(run_dir: Path | None, config: Path = DEFAULT_SPEECH_CONFIG):
    """The corpus source of a run (its saved config), or of the embedded default config."""
    from workbench.predictor import instantiate
    from workbench.runs import RunDir

    if run_dir is not None:
        return instantiate((RunDir(run_dir).config().get("data") or {}).get("source"))
    return instantiate(((yaml.safe_load(config.read_text()) or {}).get("data") or {}).get("source"))


def ready(source) -> bool:
    """True when ``source`` can be loaded without building anything (only the embedded sets are built)."""
    from speech.sources import Embedded
    from vision.text_images import EmbeddedTextImages, build_dir

    if isinstance(source, EmbeddedTextImages):
        from workbench.data.embedded import is_built

        return is_built(build_dir(*source.settings(), source.root))
    if isinstance(source, Embedded):
        from speech.embedded import embedded_dir
        from workbench.data.embedded import is_built

        return is_built(embedded_dir(source.settings(), source.root))
    return True


def pick(corpus, field_name: str, split: str = "test", per_language: int = 1) -> list:
    """Items of ``split`` with a ``field_name``, ``per_language`` per language, different contents when possible."""
    out, contents = [], set()
    for language in corpus.languages:
        items = [i for i in corpus.where(split, [language]) if getattr(i, field_name)]
        fresh = [i for i in items if i.content_id not in contents] or items
        out += fresh[:per_language]
        contents.update(i.content_id for i in fresh[:per_language])
    return out


def collect(source, folder: Path, field_name: str = "audio", limit: int | None = None) -> list[Example]:
    """Copy one test item per language of ``source``'s corpus into ``folder``; [] when unavailable."""
    try:
        corpus = source.load()
        items = pick(corpus, field_name)[:limit]
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for item in items:
            original = Path(getattr(item, field_name))
            copy = folder / f"{field_name}-{item.language}-{original.name}"
            if not copy.is_file():
                shutil.copyfile(original, copy)
            label = f"{item.language}: {item.text}" if item.text else item.language
            out.append(Example(str(copy), item.language, label))
        return out
    except Exception as err:  # noqa: BLE001 - examples are a convenience; the demo works without
        log.warning("demo: no examples from %s: %s", type(source).__name__, err)
        return []
