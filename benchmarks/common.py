"""Shared helpers: interleaved A/B timing, median ratios, load average, data, report lines.

The machine these run on is often shared, so a ratio only means something when both sides
run in the same process, back to back, under the same load: every benchmark alternates the
two sides (A, B, A, B, ...) and reports the median of the per-round ratios together with
the load average measured at the time. Timings are never asserted by tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

RATIO_PREFIX = "RATIO"  # every benchmark prints lines "RATIO <name>: <x>x ..." (tests look for them)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"10.5 9.8 9.1"``."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def machine_line() -> str:
    """One line describing where the figures come from."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {gpu}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads; load average {load_average()}"
    )


@dataclass
class Interleaved:
    """Per-round timings of two sides measured alternately.

    Attributes:
        name: what is compared.
        a, b: names of the fast (ours) and the reference (baseline) side.
        times_a, times_b: seconds per round.
        loads: 1-minute load average at each round.
    """

    name: str
    a: str
    b: str
    times_a: list[float] = field(default_factory=list)
    times_b: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        """Per-round speed-ups ``time_b / time_a`` (> 1: side a is faster)."""
        return [tb / ta for ta, tb in zip(self.times_a, self.times_b, strict=True) if ta > 0]

    def median_ratio(self) -> float:
        return statistics.median(self.ratios())

    def lines(self, target: float | None = None, unit: str = "s", quick: bool = False) -> list[str]:
        """Human-readable summary, ending with the ``RATIO`` line (``quick``: no verdict on tiny inputs)."""
        ratios = self.ratios()
        out = [
            f"{self.name}: {len(ratios)} interleaved rounds, load average (1 min) "
            f"{min(self.loads):.1f}-{max(self.loads):.1f} during the rounds",
            f"  {self.a}: median {statistics.median(self.times_a):.3f} {unit} "
            f"(rounds: {', '.join(f'{t:.3f}' for t in self.times_a)})",
            f"  {self.b}: median {statistics.median(self.times_b):.3f} {unit} "
            f"(rounds: {', '.join(f'{t:.3f}' for t in self.times_b)})",
            f"  per-round ratios: {', '.join(f'{r:.2f}' for r in ratios)}",
        ]
        verdict = ""
        if target is not None and quick:
            verdict = f" (target >= {target:g}x: not judged on --quick's tiny inputs)"
        elif target is not None:
            verdict = f" (target >= {target:g}x: {'met' if self.median_ratio() >= target else 'MISSED'})"
        out.append(f"{RATIO_PREFIX} {self.name}: {self.median_ratio():.2f}x {self.a} vs {self.b}{verdict}")
        return out


def interleave(
    name: str, a: str, b: str, run_a: Callable[[], float | None], run_b: Callable[[], float | None], rounds: int
) -> Interleaved:
    """Run ``run_a`` and ``run_b`` alternately ``rounds`` times (the order flips every round).

    Each callable either returns its own measured seconds (to leave set-up out) or None,
    in which case its whole call is timed.
    """
    result = Interleaved(name, a, b)
    for round_ in range(rounds):
        result.loads.append(os.getloadavg()[0])
        order = [("a", run_a), ("b", run_b)] if round_ % 2 == 0 else [("b", run_b), ("a", run_a)]
        for side, fn in order:
            start = time.perf_counter()
            seconds = fn()
            if seconds is None:
                seconds = time.perf_counter() - start
            (result.times_a if side == "a" else result.times_b).append(seconds)
    return result


def interleave_many(
    reference: tuple[str, Callable[[], float | None]], sides: dict[str, Callable[[], float | None]], rounds: int
) -> dict[str, Interleaved]:
    """Several sides against one reference, all in every round (the order rotates each round),
    so the reference runs ``rounds`` times, not once per side: one :class:`Interleaved` per side,
    each with the reference's times of the same rounds (callables as for :func:`interleave`)."""
    ref_name, ref_fn = reference
    results = {name: Interleaved(name, name, ref_name) for name in sides}
    runs = [(ref_name, ref_fn), *sides.items()]
    for round_ in range(rounds):
        load = os.getloadavg()[0]
        times = {}
        for name, fn in runs[round_ % len(runs) :] + runs[: round_ % len(runs)]:
            start = time.perf_counter()
            seconds = fn()
            times[name] = time.perf_counter() - start if seconds is None else seconds
        for name, result in results.items():
            result.loads.append(load)
            result.times_a.append(times[name])
            result.times_b.append(times[ref_name])
    return results


def base_parser(description: str) -> argparse.ArgumentParser:
    """``--quick`` (tiny inputs, seconds; what the tests run) / ``--full`` and common options."""
    parser = argparse.ArgumentParser(description=description)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny inputs, a few rounds (what tests run)")
    size.add_argument("--full", action="store_true", help="larger inputs and more rounds (minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default by size)")
    parser.add_argument("--data-root", default="data", help="folder of the embedded corpus builds")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for both sides (1: steadiest on a shared CPU)"
    )
    parser.add_argument("--work-dir", default=None, help="scratch folder (default: a temporary one)")
    return parser


def size_of(args) -> str:
    return "quick" if args.quick else "full" if args.full else "default"


def load_clips(root: str | Path, tiny: bool, languages: list[str] | None, split: str, limit: int | None):
    """Items of the embedded corpus (the tiny build for ``tiny``), sorted by id, at most ``limit``."""
    from speech.embedded import load_embedded
    from workbench.data.embedded import EmbeddedSettings, tiny_settings

    # only the languages asked for are built when the whole dataset is not (a partial build)
    corpus = load_embedded(tiny_settings() if tiny else EmbeddedSettings(), root, languages)
    items = [i for i in corpus.items if i.split == split and (languages is None or i.language in languages)]
    items.sort(key=lambda i: i.id)
    if limit is not None:
        # spread across languages: round-robin over languages in id order
        by_lang: dict[str, list] = {}
        for item in items:
            by_lang.setdefault(item.language, []).append(item)
        picked, groups = [], list(by_lang.values())
        while len(picked) < limit and any(groups):
            for group in groups:
                if group and len(picked) < limit:
                    picked.append(group.pop(0))
        items = picked
    return items, corpus


def header(title: str, args) -> list[str]:
    return [f"== {title} [{size_of(args)}] ==", machine_line()]


def timing_trainer(callback, max_epochs: int = 1, **overrides):
    """A CPU Trainer that trains only, with nothing beside the step to time: no logger, checkpoint,
    progress bar, summary or validation, and the data module's own sampler (``callback`` reads the clock)."""
    import lightning as L

    settings = dict(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        use_distributed_sampler=False,
        callbacks=[callback],
    )
    return L.Trainer(**{**settings, **overrides})
