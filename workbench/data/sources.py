"""Where a corpus comes from, chosen in config by ``class_path``: the sources' interface and the
modality-free sources.

Each source is a small class whose ``read()`` gathers the items; :meth:`CorpusSource.load`
then does what every source needs, once, before any program sees the corpus: every item's
signal is checked by its modality's check (:data:`SIGNAL_CHECKS`: audio by
:func:`speech.checks.validate_audio`, cached by file digest) and missing romanizations are
derived from native text (:mod:`workbench.data.derive`).

- :class:`Manifest`: a local CSV / JSONL manifest, with a column map (audio or image items).
- :class:`EmbeddedPlan`: the arguments of the offline default, generated on this machine.

The audio sources (the spoken embedded set, SpeechTaxi, hub parquet and ``datasets``
repositories, audio folders) are in :mod:`speech.sources`, the image sources in
:mod:`vision.sources` and :mod:`vision.text_images`.
"""

from __future__ import annotations

import pkgutil
from abc import ABC
from pathlib import Path

from workbench.data.derive import UnknownLanguage, derive_romanized
from workbench.data.embedded import EmbeddedSettings, tiny_settings
from workbench.data.manifest import load_manifest
from workbench.data.validate import OnBadItem, SkipReport, merge_skipped
from workbench.items import Corpus

DEFAULT_CACHE = Path("data") / "cache"
#: Item field -> the check of that signal, ``module:function``, owned by the modality's package. Imported
#: by name only when a corpus has such items, so that the core imports no modality package (as
#: :data:`workbench.predictor.PACKAGES` names the packages of the predictors).
SIGNAL_CHECKS = {"audio": "speech.checks:validate_audio"}
__all__ = ["CorpusSource", "Manifest", "EmbeddedPlan"]


class CorpusSource(ABC):  # noqa: B024 (no abstract method: image sources override load, the others read)
    """A configurable recipe for a :class:`Corpus`.

    Subclasses set ``cache_dir``, ``on_bad_item`` and ``unknown_language`` and implement
    :meth:`read`; a source that overrides :meth:`load` itself (images) skips the audio checks.
    The options every audio source takes:

    - ``cache_dir``: where audio check verdicts and derived romanizations are kept (and, for the
      hub sources, decoded audio and prepared tables);
    - ``on_bad_item``: ``raise`` at the first bad row or audio, or ``skip`` and count it;
    - ``unknown_language``: ``error``, or romanize unknown languages without a uroman code.
    """

    cache_dir: str | Path = DEFAULT_CACHE
    on_bad_item: OnBadItem = "raise"
    unknown_language: UnknownLanguage = "error"
    _loaded: Corpus | None = None

    def read(self) -> Corpus:
        """The corpus as the source holds it (before checks and derived fields)."""
        raise NotImplementedError

    def load(self) -> Corpus:
        """:meth:`read`, then every item's audio checked and missing romanizations derived (once per source)."""
        if self._loaded is None:
            self._loaded = finish(self.read(), self.cache_dir, self.on_bad_item, self.unknown_language)
        return self._loaded

    def load_for(self, protocol) -> Corpus:
        """The corpus a protocol needs; a source that can load fewer languages overrides this."""
        return self.load()


def finish(corpus: Corpus, cache_dir: str | Path, on_bad_item: OnBadItem, unknown_language: UnknownLanguage) -> Corpus:
    """Check every item's signal (raise or skip and count, :data:`SIGNAL_CHECKS`) and derive missing romanizations.

    ``corpus.meta`` then holds ``skipped`` (count, reasons, items) and ``romanized``
    (``derived``, ``language_independent``), for the program to put in metrics.json.
    """
    report = SkipReport()
    for field, check in SIGNAL_CHECKS.items():
        if any(getattr(item, field) for item in corpus.items):
            corpus.items = pkgutil.resolve_name(check)(corpus.items, cache_dir, on_bad_item, report)
            report.log(f"corpus '{corpus.name}' {field}")
    corpus.meta["skipped"] = merge_skipped(corpus.meta.get("skipped"), report.summary())
    return derive_romanized(corpus, Path(cache_dir), unknown_language)


class Manifest(CorpusSource):
    """A local CSV or JSONL manifest (see :mod:`workbench.data.manifest` for columns).

    Args:
        path: the manifest file.
        label_names: class order; default ``dataset.json`` beside the manifest, else sorted labels.
        languages: languages allowed (another one is a bad item).
        columns: workbench field -> manifest column, for manifests with their own column names
            (e.g. ``{id: utt_id, audio: wav, text: sentence}``).
        cache_dir, on_bad_item, unknown_language: see :class:`CorpusSource`.
    """

    def __init__(
        self,
        path: str,
        label_names: list[str] | None = None,
        languages: list[str] | None = None,
        columns: dict[str, str] | None = None,
        cache_dir: str = str(DEFAULT_CACHE),
        on_bad_item: OnBadItem = "raise",
        unknown_language: UnknownLanguage = "error",
    ):
        self.path, self.label_names, self.languages, self.columns = path, label_names, languages, columns
        self.cache_dir, self.on_bad_item, self.unknown_language = cache_dir, on_bad_item, unknown_language

    def read(self) -> Corpus:
        return load_manifest(
            self.path, self.label_names, self.languages, on_bad_item=self.on_bad_item, columns=self.columns
        )


class EmbeddedPlan(CorpusSource):
    """The embedded default's plan (:mod:`workbench.data.embedded`) as a source's arguments.

    The spoken set (:class:`speech.sources.Embedded`) and the text-image set
    (:class:`vision.text_images.EmbeddedTextImages`) take them and build their own folder under
    ``root`` on first use, deterministic from ``seed``; ``tiny=True`` gives the small set the tests use.
    """

    def __init__(
        self,
        root: str = "data",
        languages: list[str] | None = None,
        per_language: int | None = None,
        seed: int = 0,
        tiny: bool = False,
    ):
        self.root, self.languages, self.per_language = root, languages, per_language
        self.seed, self.tiny = seed, tiny
        self.cache_dir = Path(root) / "cache"

    def settings(self) -> EmbeddedSettings:
        overrides = {"seed": self.seed}
        if self.languages:
            overrides["languages"] = tuple(self.languages)
        if self.per_language:
            overrides["per_language"] = self.per_language
        if self.tiny:
            return tiny_settings(**overrides)
        return EmbeddedSettings(**overrides)
