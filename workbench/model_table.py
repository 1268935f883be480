"""The one table of pretrained models the shipped configs name: ``configs/models.yaml``.

It holds, per model, the values its config class takes and the published parameter count with
its source. ``benchmarks/model_shapes.py`` builds each model from it at its real shape, and the
sweep's dry run (``workbench/sweep/estimate.py``) derives its GPU-hour and memory estimates from it,
so a model's size is written once.
"""

from __future__ import annotations

from pathlib import Path

import yaml

TABLE = Path(__file__).resolve().parents[1] / "configs" / "models.yaml"
UNITS = {"K": 1e3, "M": 1e6, "B": 1e9}


def load_table(path: Path = TABLE) -> dict[str, dict]:
    """``{name: entry}``; keys starting with ``_`` only hold YAML anchors."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: entry for name, entry in table.items() if not name.startswith("_")}


def published_count(text: str) -> int:
    """``"317M"`` -> 317000000, ``"2.21B"`` -> 2210000000."""
    return round(float(text[:-1]) * UNITS[text[-1]])
