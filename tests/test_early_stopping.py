"""workbench.early_stopping: no stop before the minimum budget, patience over every check, why a fit stopped."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from workbench.early_stopping import EarlyStopping, checks_since_best, stopped_by


class Scripted(L.LightningModule):
    """A linear model whose dev 'CER' follows a script, one value per validation."""

    def __init__(self, script: list[float]):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.script = script
        self.checks = 0

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        self.log("val/cer", self.script[min(self.checks, len(self.script) - 1)])
        self.checks += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=2)  # 4 steps an epoch

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.randn(2, 2)), batch_size=2)


def fit(script: list[float], callback, **trainer_args) -> tuple[L.Trainer, Scripted]:
    model = Scripted(script)
    trainer = L.Trainer(
        accelerator="cpu",
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **trainer_args,
    )
    trainer.fit(model)
    return trainer, model


# a CTC-like curve: a plateau at 1.0 for 4 checks, then learning, then a plateau at 0.2
CURVE = [1.0, 1.0, 1.0, 1.0, 0.8, 0.5, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]


def test_patience_running_out_on_the_early_plateau_does_not_end_the_fit_at_min_steps():
    trainer, model = fit(CURVE, EarlyStopping(monitor="val/cer", mode="min", patience=2), min_steps=20, max_steps=400)
    # patience ran out on the plateau (check 3); Lightning's callback would then stop at
    # min_steps (step 20, check 5) whatever check 5 says. This one sees check 5 improve,
    # learns through the drop and stops 2 checks into the final plateau.
    assert model.checks == 10 and trainer.global_step == 40
    assert stopped_by(trainer) == "early_stopping" and checks_since_best(trainer) == 2


def test_patience_exhausted_before_the_minimum_stops_once_the_minimum_is_met():
    flat = [1.0] * 20
    trainer, model = fit(flat, EarlyStopping(monitor="val/cer", mode="min", patience=2), min_steps=24, max_steps=400)
    assert trainer.global_step == 24 and model.checks == 6
    assert stopped_by(trainer) == "early_stopping"


@pytest.mark.parametrize(
    "limits,expected",
    [({"max_steps": 12}, "max_steps"), ({"max_epochs": 3}, "max_epochs")],
)
def test_stopped_by_names_the_limit_that_ended_an_improving_fit(limits, expected):
    improving = [1.0 - 0.05 * i for i in range(20)]
    trainer, _ = fit(improving, EarlyStopping(monitor="val/cer", mode="min", patience=2), **limits)
    assert stopped_by(trainer) == expected
    assert checks_since_best(trainer) == 0  # still improving: the report flags the budget


def test_lightnings_own_callback_is_why_this_one_exists():
    """Lightning keeps the stop signal raised during the minimum and stops at min_steps on the
    drop (the bug the subclass fixes). If this fails, Lightning changed and the subclass may go."""
    from lightning.pytorch.callbacks import EarlyStopping as Stock

    trainer, model = fit(CURVE, Stock(monitor="val/cer", mode="min", patience=2), min_steps=20, max_steps=400)
    assert trainer.global_step == 20 and model.checks == 5
