"""Sweeps: a grid of runs expanded from one file, run in parallel, resumable."""

from workbench.sweep.runner import run_sweep
from workbench.sweep.spec import Point, Sweep, load_sweep

__all__ = ["Point", "Sweep", "load_sweep", "run_sweep"]
