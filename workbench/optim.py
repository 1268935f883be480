"""One optimiser vocabulary and one learning-rate schedule for every trained module.

In config, every LightningModule takes ``model.optim`` with the same keys::

    model:
      optim:
        lr: 0.003          # peak learning rate
        weight_decay: 0.05 # AdamW decoupled weight decay (not on biases and norms)
        warmup: 0.1        # fraction of the training steps with linear warm-up

and the schedule is the same everywhere: linear warm-up over ``warmup`` of the planned
optimizer steps (``trainer.estimated_stepping_batches``), then cosine decay to zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch


@dataclass
class Optim:
    """AdamW with linear warm-up then cosine decay to zero.

    Args:
        lr: peak learning rate.
        weight_decay: AdamW weight decay (not applied to biases, norms and scales).
        warmup: fraction of the training steps spent warming up (0 <= warmup < 1).
    """

    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: float = 0.1


# a module built in code keeps an Optim in its hyper-parameters: checkpoints read with weights_only=True
torch.serialization.add_safe_globals([Optim])


def as_optim(value: Optim | dict | None, default: Optim | None = None) -> Optim:
    """An :class:`Optim` from a config value (a dict when rebuilt from a checkpoint's hparams);
    keys a dict leaves out, or None, take ``default`` (the module's own defaults; :class:`Optim`'s)."""
    if isinstance(value, Optim):
        return value
    return replace(default or Optim(), **(value or {}))


def warmup_cosine(total_steps: int, warmup: float) -> Callable[[int], float]:
    """The learning-rate factor of optimizer step ``step`` (0-based).

    Example:
        >>> f = warmup_cosine(100, 0.1)
        >>> round(f(0), 2), round(f(9), 2), round(f(55), 2), round(f(99), 3)
        (0.1, 1.0, 0.5, 0.0)
    """
    total = max(1, int(total_steps))
    warm = max(1, int(warmup * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return factor


def decay_groups(params: list[torch.nn.Parameter], weight_decay: float, **extra) -> list[dict]:
    """Parameter groups: weight decay on matrices, none on biases, norms and scales (``ndim < 2``)."""
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay, **extra},
        {"params": no_decay, "weight_decay": 0.0, **extra},
    ]
    return [g for g in groups if g["params"]]


def adamw_warmup_cosine(groups: list[dict], optim: Optim, trainer) -> dict:
    """AdamW over ``groups`` with the one schedule, stepped every optimizer step (Lightning's dict)."""
    optimizer = torch.optim.AdamW(groups, lr=optim.lr, weight_decay=optim.weight_decay)
    schedule = warmup_cosine(trainer.estimated_stepping_batches, optim.warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
