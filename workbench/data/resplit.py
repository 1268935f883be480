"""Deterministic re-splitting by content, for datasets without (consistent) splits.

A content's split is a hash of its ``content_id`` and a seed, so all translations of one
content land in the same split: disjoint by content across languages by construction.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from workbench.errors import ConfigError
from workbench.items import Item


def content_split(content_id: str, dev: float, test: float, seed: int = 0) -> str:
    """``train``, ``dev`` or ``test`` for one content, stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{content_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test else "dev" if u < test + dev else "train"


def resplit_by_content(items: list[Item], dev: float = 0.1, test: float = 0.2, seed: int = 0) -> list[Item]:
    """Reassign every item's split from its ``content_id`` (see :func:`content_split`)."""
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ConfigError(f"resplit: dev={dev} and test={test} must be fractions summing to < 1")
    return [replace(item, split=content_split(item.content_id, dev, test, seed)) for item in items]
