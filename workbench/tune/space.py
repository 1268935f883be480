"""A system's search space, declared in its sweep-file entry, and the CLI arguments a trial gets.

Each key is a config key of the system's program (as ``--key=value`` would set it); each value
says how Optuna samples it::

    search_space:
      model.optim.lr: {low: 1.0e-4, high: 1.0e-2, log: true}   # float, log-uniform
      model.dropout: {low: 0.0, high: 0.3}                      # float, uniform
      model.encoder.init_args.num_blocks: {low: 3, high: 6}     # int (both bounds ints)
      data.batch_size: {choices: [16, 32]}                      # categorical

A bad entry is a one-line :class:`~workbench.errors.ConfigError` naming the system and key.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.errors import ConfigError

RANGE_KEYS = {"low", "high", "log", "step"}
CHOICE_KEYS = {"choices"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_entry(where: str, key: str, entry: Any) -> None:
    """Refuse an entry Optuna could not sample, in one line naming ``where`` and ``key``."""
    name = f"{where}.search_space.{key}"
    if str(key).startswith("--"):
        raise ConfigError(f"{name}: write the config key without '--' (e.g. model.optim.lr)")
    if not isinstance(entry, dict):
        raise ConfigError(f"{name}: expected {{low, high[, log, step]}} or {{choices: [...]}}, got {entry!r}")
    if "choices" in entry:
        unknown = set(entry) - CHOICE_KEYS
        choices = entry["choices"]
        if unknown or not isinstance(choices, list) or not choices:
            raise ConfigError(f"{name}: a categorical entry is {{choices: [a, b, ...]}} (non-empty), got {entry!r}")
        return
    unknown = set(entry) - RANGE_KEYS
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {sorted(unknown)}; a range takes {sorted(RANGE_KEYS)}")
    low, high = entry.get("low"), entry.get("high")
    if not (_is_number(low) and _is_number(high)) or not low < high:
        raise ConfigError(f"{name}: needs numbers low < high, got low={low!r} high={high!r}")
    if entry.get("log") and low <= 0:
        raise ConfigError(f"{name}: a log range needs low > 0, got {low!r}")
    if entry.get("log") and "step" in entry:
        raise ConfigError(f"{name}: 'step' and 'log: true' exclude each other")


def read_space(where: str, space: Any) -> dict[str, dict]:
    """The checked search space of one system (``where`` names it in errors); {} when none."""
    if space is None:
        return {}
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}.search_space: expected a mapping of config keys to ranges, got {space!r}")
    for key, entry in space.items():
        check_entry(where, key, entry)
    return {str(key): dict(entry) for key, entry in space.items()}


def suggest(trial, space: dict[str, dict]) -> dict[str, Any]:
    """Sample every key of ``space`` from ``trial`` (an :class:`optuna.trial.Trial`)."""
    params = {}
    for key, entry in space.items():
        if "choices" in entry:
            params[key] = trial.suggest_categorical(key, entry["choices"])
        elif isinstance(entry["low"], int) and isinstance(entry["high"], int):
            params[key] = trial.suggest_int(
                key, entry["low"], entry["high"], step=entry.get("step", 1), log=entry.get("log", False)
            )
        else:
            low, high = float(entry["low"]), float(entry["high"])
            params[key] = trial.suggest_float(key, low, high, step=entry.get("step"), log=entry.get("log", False))
    return params


def as_arguments(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """``{"model.optim.lr": 0.003}`` -> ``(("--model.optim.lr", "0.003"),)``, as a sweep point's args."""
    return tuple(
        (f"--{key}", json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value))
        for key, value in params.items()
    )
