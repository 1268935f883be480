"""Classification metrics, overall and per language (torchmetrics).

The layout is the one every run writes to ``metrics.json``::

    {"overall": {"accuracy": .., "macro_f1": .., "n": ..},
     "per_language": {"eng": {"accuracy": .., "macro_f1": .., "n": ..}, ...}}
"""

from __future__ import annotations

from collections.abc import Sequence


def scores(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> dict:
    """Accuracy (micro), macro-F1 over the classes present in labels or preds, and n."""
    # imported here so that reading and writing run directories (reports, sweeps) needs no torch
    import torch
    from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

    if len(labels) == 0:
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "n": 0}
    target = torch.as_tensor(list(labels), dtype=torch.long)
    pred = torch.as_tensor(list(preds), dtype=torch.long)
    accuracy = multiclass_accuracy(pred, target, num_classes=num_classes, average="micro")
    # classes absent from both labels and predictions would count as F1 = 0 and drag a
    # per-language macro-F1 down for reasons unrelated to the system: ignore them
    present = torch.zeros(num_classes, dtype=torch.bool)
    present[target] = True
    present[pred] = True
    per_class = multiclass_f1_score(pred, target, num_classes=num_classes, average="none", zero_division=0)
    return {
        "accuracy": float(accuracy),
        "macro_f1": float(per_class[present].mean()),
        "n": int(len(target)),
    }


def scores_by_language(labels: Sequence[int], preds: Sequence[int], languages: Sequence[str], num_classes: int) -> dict:
    """``{"overall": scores, "per_language": {lang: scores}}``."""
    result = {"overall": scores(labels, preds, num_classes), "per_language": {}}
    for lang in sorted(set(languages)):
        idx = [i for i, item_lang in enumerate(languages) if item_lang == lang]
        result["per_language"][lang] = scores([labels[i] for i in idx], [preds[i] for i in idx], num_classes)
    return result
