"""Hyper-parameters of checkpoints written before a setting was nested (``model.optim``, ``model.lora``)."""

from __future__ import annotations


def nest_flat(hparams: dict, group: str, keys: dict[str, str]) -> dict:
    """``hparams`` with the flat keys of an older checkpoint moved into ``hparams[group]``.

    ``keys`` maps each old flat name to its name inside the group. Hyper-parameters without
    any of them come back unchanged (a copy).

    Example:
        >>> nest_flat({"lr": 0.01, "pct_start": 0.2, "dropout": 0.1}, "optim", {"lr": "lr", "pct_start": "warmup"})
        {'dropout': 0.1, 'optim': {'lr': 0.01, 'warmup': 0.2}}
    """
    flat = {new: hparams[old] for old, new in keys.items() if old in hparams}
    out = {k: v for k, v in hparams.items() if k not in keys}
    if flat and out.get(group) is None:
        out[group] = flat
    return out
