"""The prediction record both paths write, one per evaluated item.

E2E and cascade runs write the same fields, so the report can pair them item by item:
``id, content_id, language, label, pred, probs, system, protocol, seed, split`` plus,
for the cascade, ``transcript`` and ``romanized``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.io import atomic_write_jsonl, read_jsonl
from workbench.items import Item, ItemKey
from workbench.metrics import scores_by_language


@dataclass(frozen=True)
class Prediction(ItemKey):
    """One evaluated item: its key (id, content_id, language, label), then what the run predicted."""

    pred: int
    probs: list[float]
    system: str
    protocol: str
    seed: int
    split: str
    transcript: str | None = None
    romanized: str | None = None

    def to_dict(self) -> dict:
        row = asdict(self)
        if self.transcript is None and self.romanized is None:
            row.pop("transcript")
            row.pop("romanized")
        return row


def make_predictions(
    items: Sequence[Item],
    probs: Sequence[Sequence[float]],
    split: str,
    system: str,
    protocol: str,
    seed: int,
    transcripts: Sequence[str] | None = None,
    romanized: Sequence[str] | None = None,
) -> list[Prediction]:
    """One record per item; ``probs`` is ``(n_items, n_classes)``, pred is its argmax."""
    if len(items) != len(probs):
        raise ValueError(f"{len(items)} items but {len(probs)} probability rows")
    records = []
    for i, (item, row) in enumerate(zip(items, probs, strict=True)):
        row = [round(float(p), 6) for p in row]
        records.append(
            Prediction(
                id=item.id,
                content_id=item.content_id,
                language=item.language,
                label=item.label,
                pred=max(range(len(row)), key=row.__getitem__),
                probs=row,
                system=system,
                protocol=protocol,
                seed=seed,
                split=split,
                transcript=None if transcripts is None else transcripts[i],
                romanized=None if romanized is None else romanized[i],
            )
        )
    return records


def write_predictions(path: str | Path, records: Sequence[Prediction]) -> Path:
    return atomic_write_jsonl(path, (r.to_dict() for r in records))


def read_predictions(path: str | Path) -> list[dict]:
    return read_jsonl(path)


def metrics_by_split(records: Sequence[Prediction | dict], num_classes: int) -> dict:
    """``{"splits": {split: {"overall": .., "per_language": {..}}}}`` from prediction records."""
    rows = [r.to_dict() if isinstance(r, Prediction) else r for r in records]
    out: dict = {"splits": {}}
    for split in sorted({r["split"] for r in rows}):
        part = [r for r in rows if r["split"] == split]
        out["splits"][split] = scores_by_language(
            [r["label"] for r in part], [r["pred"] for r in part], [r["language"] for r in part], num_classes
        )
    return out
