"""configs/README.md lists every base config (a config that sets ``seed_everything``), and only those."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def base_configs() -> set[str]:
    """Every shipped run config that a run starts from: it sets the seed, an overlay never does."""
    found = set()
    for path in CONFIGS.rglob("*.yaml"):
        if path.parent.name == "sweeps":
            continue
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(config, dict) and "seed_everything" in config:
            found.add(path.relative_to(CONFIGS).as_posix())
    return found


def listed_bases() -> set[str]:
    """The first column of the README's "Base configs" table."""
    section = (CONFIGS / "README.md").read_text(encoding="utf-8").split("## Base configs", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+\.yaml)` \|", section, re.MULTILINE))


def test_readme_lists_every_base_config():
    bases = base_configs()
    assert len(bases) >= 10, bases  # the finder itself still finds the shipped bases
    assert listed_bases() == bases, {"not listed": bases - listed_bases(), "listed, not a base": listed_bases() - bases}
