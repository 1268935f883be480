"""The recognizer interface every ASR backend implements, chosen in config by ``class_path``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np
import torch

Script = Literal["native", "romanized"]


def pick_device(device: str | None) -> torch.device:
    """``None``/``"auto"`` -> CUDA when available, else CPU; otherwise as given."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Recognizer(ABC):
    """Speech -> text for many short clips at once.

    Subclasses load their model lazily (the first :meth:`transcribe` call), so building a
    config and checking its cache costs nothing when every transcript is cached.

    Attributes:
        script: what the transcripts are written in: ``native`` (the language's own
            script, romanized downstream if asked) or ``romanized`` (already uroman-like
            Latin, e.g. a recognizer trained on romanized targets: no uroman needed).
        uses_language: whether the item's language is given to the model (then it is part
            of the cache key of each clip).
    """

    script: Script = "native"
    uses_language: bool = True

    @abstractmethod
    def describe(self) -> dict:
        """Everything the transcripts depend on (model identity + checkpoint hash + options):
        the cache folder is named by its hash."""

    @abstractmethod
    def transcribe(self, waves: list[np.ndarray], languages: list[str | None]) -> list[str]:
        """Transcripts of ``waves`` (each ``(samples,)`` float32 at 16 kHz), in input order.

        Args:
            waves: the clips.
            languages: each clip's ISO 639-3 code (ignored when ``uses_language`` is False).
        """

    def language_report(self, languages: list[str | None]) -> dict:
        """Counts for the run's metrics about how the clips of ``languages`` (in order) were
        handled, e.g. languages the model lacks; ``{}`` when there is nothing to report."""
        return {}
