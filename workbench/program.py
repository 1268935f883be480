"""The one program layer under ``speech.fit``, ``cascade.fit``, ``cascade.fit_asr`` and ``vision.fit``.

A program is a :class:`Program` subclass that names its LightningModule, its data module
and what it adds to the run record; everything else happens here, once:

- the trainer, its callbacks and loggers from config, plus the run directory's two
  checkpoints (:class:`~workbench.runs.RunDir`): ``best`` (best monitored dev score; when
  training ended before any validation, the final weights) and ``last`` (the resumable end state);
- the resolved config saved in the run directory (:class:`~workbench.cli.RunDirConfig`);
- fit (``--ckpt_path`` resumes), then predict every evaluated split *and* the dev split
  with the best checkpoint (``weights_only=True``);
- the run directory written by :meth:`RunDir.write <workbench.runs.RunDir.write>`: predictions,
  dev predictions and, last, the metrics with the :class:`~workbench.record.RunRecord`;
- :func:`entry`: a DataError / ConfigError ends the program with one line naming the
  file / item / field and exit status 2 (the traceback with ``--debug`` or ``XLING_DEBUG=1``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from workbench.cli import RunDirCLI, RunDirConfig
from workbench.distributed import gathered, program_scope, rank_and_world, rank_share
from workbench.early_stopping import checks_since_best, stopped_by
from workbench.errors import WorkbenchError
from workbench.predictions import Prediction, make_predictions
from workbench.record import ProtocolRecord, RunRecord, TrainingRecord, git_commit, package_version
from workbench.resume import ExactResume
from workbench.runs import BEST, LAST, RunDir

log = logging.getLogger(__name__)
DEBUG_ENV = "XLING_DEBUG"


def entry(main: Callable[[list[str] | None], object], argv: list[str] | None = None) -> None:
    """Run ``main(argv)`` as a command: a workbench error is one line on stderr and exit status 2.

    ``--debug`` (removed before ``main`` sees the arguments) or ``XLING_DEBUG=1`` shows the
    full traceback instead.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        main(argv)
    except WorkbenchError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def probs_in_order(outputs: Sequence[tuple[torch.Tensor, torch.Tensor]], n: int, where: str) -> list[list[float]]:
    """``[(index (B,), probs (B, C))]`` of one dataloader -> ``(n, C)`` rows in item order."""
    if n == 0:
        return []
    width = outputs[0][1].shape[-1]
    probs, seen = torch.zeros(n, width), torch.zeros(n, dtype=torch.bool)
    for index, rows in outputs:
        probs[index], seen[index] = rows.float(), True
    if not seen.all():
        raise RuntimeError(f"{where}: {int((~seen).sum())} of {n} items were not predicted")
    return probs.tolist()


def items_digest(items) -> str:
    """A digest of the items a run used (ids, content ids, languages, labels, splits, texts)."""
    rows = sorted((i.split, i.id, i.content_id, i.language, i.label, i.text or "") for i in items)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]


class Program(RunDirCLI):
    """A training program: subclasses set the class attributes and, where needed, the hooks.

    Class attributes: ``path`` and ``modality`` of the record; ``monitor`` and ``mode`` of
    the best checkpoint; ``fallback_name`` of the run directory; ``trainer_defaults``.
    Hooks: :meth:`system`, :meth:`model_identity`, :meth:`evaluate`, :meth:`report`.
    """

    path = "e2e"
    modality = "speech"
    monitor = "val/acc"
    mode = "max"
    trainer_defaults: dict = {"log_every_n_steps": 10}
    model_class: type | None = None
    data_class: type | None = None

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--test", type=bool, default=True, help="predict with the best checkpoint after fitting")
        parser.add_argument(
            "--tuning", type=dict | None, default=None, help="set by workbench.tune: the run record's tuning budget"
        )

    # -- construction ------------------------------------------------------------------
    @classmethod
    def main(cls, args: list[str] | None = None, **kwargs) -> Program:
        """Parse ``args``, build model, data and trainer, then :meth:`run`."""
        with program_scope():
            cli = cls(
                cls.model_class,
                cls.data_class,
                run=False,
                args=args,
                save_config_callback=RunDirConfig,
                seed_everything_default=0,
                trainer_defaults=dict(cls.trainer_defaults),
                auto_configure_optimizers=False,
                **kwargs,
            )
            cli.run()
        return cli

    def monitored(self) -> str:
        return self.monitor

    def instantiate_trainer(self, **kwargs):
        run_dir = self.run_dir
        self.best = ModelCheckpoint(
            dirpath=RunDir(run_dir).checkpoints,
            filename=BEST,
            monitor=self.monitored(),
            mode=self.mode,
            enable_version_counter=False,
        )
        # Not the best callback's save_last: Lightning (2.6) rewrites that "last" only when a new
        # best was saved, so it would hold the best epoch and a resume would repeat epochs.
        self.last = ModelCheckpoint(
            dirpath=RunDir(run_dir).checkpoints, filename=LAST, monitor=None, save_top_k=1, enable_version_counter=False
        )
        # ExactResume: step-keyed reseeding, so a resumed run equals an uninterrupted one
        extra = {
            "callbacks": [*self.configured_callbacks(), self.best, self.last, ExactResume()],
            "default_root_dir": str(run_dir),
        }
        if self._get(self.config_init, "trainer", default={}).get("logger") in (None, True):
            extra["logger"] = [
                TensorBoardLogger(str(run_dir), name="tensorboard", version=""),
                CSVLogger(str(run_dir), name="csv", version=""),
            ]
        return super().instantiate_trainer(**extra, **kwargs)

    # -- the run -----------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return int(self.config.get("seed_everything") or 0)

    @property
    def fitted(self) -> bool:
        return bool(self.config.get("fit", True))

    def run(self) -> dict | None:
        """Fit, then evaluate with ``best.ckpt`` and write the run directory (rank 0)."""
        started = time.perf_counter()
        if self.fitted:
            resume = self.config.get("ckpt_path")
            self.trainer.fit(self.model, datamodule=self.datamodule, ckpt_path=resume, weights_only=True)
            if not self.best.best_model_path:  # ended before any validation: the final weights are the best
                self.trainer.save_checkpoint(self.best_path)
        self.train_seconds = time.perf_counter() - started
        # now, not when the record is written: predicting with best.ckpt restores the callbacks'
        # states of that earlier epoch, which would erase why (and when) fitting stopped
        self.fit_end = self.training_record()
        self.metrics = None
        if not self.config["test"]:
            return None
        records, extra = self.evaluate()
        if self.trainer.is_global_zero:
            self.metrics = self.write(records, extra)
            self.report(self.metrics)
        return self.metrics

    @property
    def best_path(self) -> Path:
        return RunDir(self.run_dir).best

    def best_checkpoint(self) -> str | None:
        """``best.ckpt`` when this run trained, else None (evaluate the model as loaded)."""
        return str(self.best_path) if self.fitted and self.best_path.is_file() else None

    def predict(self) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """The data module's predict loaders through the module's ``predict_step`` with ``best.ckpt``.

        Under DDP each rank predicts its share of every loader's batches and every rank gets
        all the outputs (:mod:`workbench.distributed`): each item is predicted once.
        """
        rank, world = rank_and_world()
        if world == 1:
            outputs = self.trainer.predict(
                self.model, datamodule=self.datamodule, ckpt_path=self.best_checkpoint(), weights_only=True
            )
            return [outputs] if len(self.trainer.num_predict_batches) == 1 else list(outputs)
        self.datamodule.setup("predict")
        loaders = self.datamodule.predict_dataloader()
        loaders = [rank_share(loader, rank, world) for loader in (loaders if isinstance(loaders, list) else [loaders])]
        # a split of fewer batches than ranks leaves some rank without any: nothing to predict there
        self.model.allow_zero_length_dataloader_with_multiple_devices = True
        outputs = self.trainer.predict(
            self.model, dataloaders=loaders, ckpt_path=self.best_checkpoint(), weights_only=True
        )
        if outputs is None:  # no batch at all on this rank
            outputs = [[] for _ in loaders]
        elif len(loaders) == 1:
            outputs = [outputs]
        mine = [[(index.cpu(), probs.cpu()) for index, probs in part] for part in outputs]
        return [sum(parts, []) for parts in zip(*gathered(mine), strict=True)]

    def evaluate(self) -> tuple[list[Prediction], dict]:
        """Prediction records of ``data.predict_splits`` (evaluated splits, then dev) and extra sections."""
        data, system = self.datamodule, self.system()
        records = []
        for split, outputs in zip(data.predict_splits, self.predict(), strict=True):
            items = data.eval_items(split)
            probs = probs_in_order(outputs, len(items), f"split '{split}'")
            records += make_predictions(items, probs, split, system, data.protocol.tag, self.seed)
        return records, {}

    def write(self, records: list[Prediction] | None, sections: dict) -> dict:
        """The run directory: predictions of the evaluated splits, of dev, and metrics (last)."""
        data = self.datamodule
        corpus = getattr(data, "corpus", None)
        meta = getattr(corpus, "meta", None) or {}
        # what loading did to the data: bad items skipped (on_bad_item: skip), romanizations derived
        checks = {key: meta[key] for key in ("skipped", "romanized") if key in meta}
        if checks:
            sections = {**sections, "data_checks": checks}
        run, record = RunDir(self.run_dir), self.record()
        if records is None:
            return run.write(record, None, sections=sections)
        evaluated = set(data.eval_splits)
        dev = [r for r in records if r.split == "dev"]
        return run.write(record, [r for r in records if r.split in evaluated], dev, sections)

    def report(self, metrics: dict) -> None:
        for split, scores in metrics.get("splits", {}).items():
            log.warning("%s %s: accuracy %.3f", self.run_dir, split, scores["overall"]["accuracy"])

    # -- the record --------------------------------------------------------------------
    def system(self) -> str:
        return str(getattr(self.model, "system", self.path))

    def model_identity(self) -> dict:
        return {"class": type(self.model).__name__}

    def training_record(self) -> TrainingRecord:
        """How fitting went: why it stopped, steps, epochs, the best dev score, seconds."""
        trainer, score = self.trainer, self.best.best_model_score
        return TrainingRecord(
            stopped_by=stopped_by(trainer) if self.fitted else "none",
            steps=int(trainer.global_step),
            epochs=int(trainer.current_epoch),
            monitor=self.monitored(),
            best_dev=float(score) if score is not None else None,
            train_seconds=round(self.train_seconds, 1),
            checks_since_best=checks_since_best(trainer) if self.fitted else None,
        )

    def record(self) -> RunRecord:
        data = self.datamodule
        selection = data.selection
        tested = [i for s in data.eval_splits for i in data.eval_items(s)]
        protocol = ProtocolRecord(
            data.protocol.name,
            [] if data.protocol.name == "all_languages" else list(selection.train_languages),
            sorted({i.language for i in tested}),
        )
        source = getattr(data, "source", None)
        every = [i for items in selection.splits.values() for i in items]
        return RunRecord(
            path=self.path,
            modality=self.modality,
            system=self.system(),
            protocol=protocol,
            seed=self.seed,
            label_names=list(data.label_names),
            data={"source": f"{type(source).__module__}.{type(source).__qualname__}", "digest": items_digest(every)},
            model=self.model_identity(),
            training=self.fit_end,
            tuning=self.config.get("tuning"),
            version=package_version(),
            commit=git_commit(),
        )
