"""The steps every training program runs, as plain functions a program's ``main`` calls in order::

    run = train(Model, Data, args, fallback=...)   # parse (workbench.cli), build the trainer, fit
    run = evaluate(run, path=..., modality=..., system=..., model=...)   # predict, write the run

:func:`train` is :func:`~workbench.cli.parse` (LightningCLI for parsing only), :func:`build_trainer`
(callbacks, loggers, one checkpoint naming) and :func:`fit` (``--fit``, ``--ckpt_path`` resumes);
:func:`evaluate` (skipped with ``--test false``) is :func:`predict_splits` (every evaluated split,
then dev, with the best checkpoint), :func:`class_predictions`, :func:`run_record` and
:func:`write_run` (the metrics last). A recognizer (:mod:`cascade.fit_asr`) calls :func:`train`
and writes its transcripts itself. A run directory holds:

- checkpoints (:class:`~workbench.runs.RunDir` owns the layout): ``best`` (best ``--monitor`` dev
  score; when training ended before any validation, the final weights) and ``last`` (the
  resumable end state);
- the resolved config saved in the run directory;
- the predictions of the evaluated splits, the dev predictions (for calibration) and, last and
  atomically, the metrics ``{record, splits, sections}`` with the :class:`~workbench.record.RunRecord`;
- :func:`entry`: a DataError / ConfigError ends the program with one line naming the
  file / item / field and exit status 2 (the traceback with ``--debug`` or ``XLING_DEBUG=1``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import CheckpointIO, TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from workbench.cli import Parsed, RunDirConfig, parse
from workbench.console import StepProgressBar, quiet_lightning
from workbench.distributed import gathered, rank_and_world, rank_share
from workbench.early_stopping import checks_since_best, stopped_by
from workbench.errors import WorkbenchError
from workbench.io import atomic_open
from workbench.predictions import Prediction, make_predictions
from workbench.record import ProtocolRecord, RunRecord, TrainingRecord, git_commit, package_version
from workbench.resume import ExactResume
from workbench.runs import BEST, CHECKPOINTS, LAST, METRICS, RunDir

log = logging.getLogger(__name__)
DEBUG_ENV = "XLING_DEBUG"


def entry(main: Callable[[list[str] | None], object], argv: list[str] | None = None) -> None:
    """Run ``main(argv)`` as a command: a workbench error is one line on stderr and exit status 2.

    ``--debug`` (removed before ``main`` sees the arguments) or ``XLING_DEBUG=1`` shows the
    full traceback instead. A run stopped by SIGTERM (``scancel``, a preemption) exits with 143, as a
    process the signal killed does: Lightning stops it with a ``SystemExit`` that would say 0, and a
    scheduler or script would take the unfinished run for a finished one.
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
    except SIGTERMException:
        print(
            f"error: stopped by SIGTERM before the run finished (no {METRICS}); "
            f"--ckpt_path=<run_dir>/{CHECKPOINTS}/{LAST}.ckpt resumes it",
            file=sys.stderr,
        )
        sys.exit(128 + signal.SIGTERM)


@dataclass
class Fitted:
    """How fitting went, taken when it ended (see :func:`fit`)."""

    training: TrainingRecord
    cpu_seconds: float


@dataclass
class Run:
    """What :func:`train` and :func:`evaluate` return, and so a program's ``main``: the parsed run,
    its trainer, how fitting went and the metrics written (None before :func:`evaluate`, with
    ``--test false`` or on a rank other than 0)."""

    parsed: Parsed
    trainer: Trainer
    fitted: Fitted
    metrics: dict | None = None

    @property
    def model(self):
        return self.parsed.model

    @property
    def datamodule(self):
        return self.parsed.datamodule


def train(model_class: type, data_class: type, args: list[str] | None, *, mode: str = "max", **parsing) -> Run:
    """Every program's opening: parse ``args`` (:func:`~workbench.cli.parse` with ``parsing``: ``fallback``,
    ``links``, ``monitor``, ``trainer_defaults``), build the trainer (best checkpoint by ``--monitor``
    in ``mode``) and fit."""
    parsed = parse(model_class, data_class, args, **parsing)
    trainer, best = build_trainer(parsed, mode=mode)
    return Run(parsed, trainer, fit(trainer, parsed, best))


def train_by_dev_loss(model_class: type, data_class: type, args: list[str] | None, *, fallback: str) -> Run:
    """:func:`train` for the programs that fit a model no class is scored with (the stand-in translator, the
    masked LM, the language adapters): the best checkpoint has the lowest ``val/loss``, nothing is linked
    between model and data, and the loss is logged every 10 steps."""
    defaults = {"log_every_n_steps": 10}
    return train(
        model_class, data_class, args, mode="min", fallback=fallback, monitor="val/loss", links=(),
        trainer_defaults=defaults,
    )  # fmt: skip


def evaluate(
    run: Run,
    *,
    path: str,
    modality: str,
    system: str,
    model: dict,
    sections: dict | None = None,
    further: Callable[[list], dict] | None = None,
    **columns,
) -> Run:
    """A classifier's run written (unless ``--test false``): every evaluated split and dev predicted
    with ``best.ckpt`` as ``system``, the record (``path`` x ``modality``, ``model``), the predictions
    and the metrics with the program's ``sections``; one line per split logs its accuracy.

    ``further(outputs)``: more sections from the outputs of the data module's predict loaders after
    the evaluated splits and dev (the cascade's gold text); ``columns``: per-split functions
    ``items -> values`` of extra prediction columns (``transcripts``, ``romanized``).
    """
    parsed, trainer = run.parsed, run.trainer
    if not parsed.config["test"]:
        return run
    outputs = predict_splits(trainer, parsed, run.fitted)
    records = class_predictions(parsed, outputs, system, **columns)
    record = run_record(parsed, run.fitted, path=path, modality=modality, system=system, model=model)
    sections = {**(sections or {}), **(further(outputs[len(parsed.datamodule.predict_splits) :]) if further else {})}
    metrics = write_run(trainer, parsed, record, records, sections)
    report_accuracy(parsed.run_dir, metrics)
    return replace(run, metrics=metrics)


def build_trainer(parsed: Parsed, mode: str = "max") -> tuple[Trainer, ModelCheckpoint]:
    """The trainer of the config plus ``best.ckpt`` (``--monitor``, ``mode``), ``last.ckpt``,
    exact resumption, ``config.yaml`` and the step progress bar; TensorBoard and CSV logs in the
    run directory unless the config names its loggers. Returns the trainer and the best callback."""
    quiet_lightning()
    config, checkpoints = dict(parsed.trainer), RunDir(parsed.run_dir).checkpoints
    # best: the weights evaluated and served, no optimizer state (``last`` resumes): a whole checkpoint
    # there would be loaded again by every prediction, AdamW moments included, beside the fit's own
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename=BEST,
        monitor=parsed.config["monitor"],
        mode=mode,
        save_weights_only=True,
        enable_version_counter=False,
    )
    # Not the best callback's save_last: Lightning (2.6) rewrites that "last" only when a new
    # best was saved, so it would hold the best epoch and a resume would repeat epochs.
    last = ModelCheckpoint(dirpath=checkpoints, filename=LAST, monitor=None, save_top_k=1, enable_version_counter=False)
    configured = config.pop("callbacks", None) or []
    callbacks = [*(configured if isinstance(configured, list) else [configured]), best, last]
    # ExactResume: step-keyed reseeding, so a resumed run equals an uninterrupted one
    callbacks += [ExactResume(), RunDirConfig(parsed.parser, parsed.config)]
    if config.get("enable_progress_bar") is not False:
        callbacks.append(StepProgressBar())
    if config.get("logger") in (None, True):
        run_dir = str(parsed.run_dir)
        config["logger"] = [
            TensorBoardLogger(run_dir, name="tensorboard", version=""),
            CSVLogger(run_dir, name="csv", version=""),
        ]
    config["default_root_dir"] = str(parsed.run_dir)
    plugins = config.pop("plugins", None) or []
    plugins = plugins if isinstance(plugins, list) else [plugins]
    if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
        plugins.append(StreamedCheckpointIO())
    return Trainer(**config, callbacks=callbacks, plugins=plugins), best


class StreamedCheckpointIO(TorchCheckpointIO):
    """Checkpoints written straight to their (local) file, atomically. Lightning's own (2.6:
    ``TorchCheckpointIO`` -> ``_atomic_save``) first serialises the whole checkpoint into memory:
    the weights and the AdamW moments, 12 bytes a trained parameter (7 GB for w2v-BERT 2.0), on
    top of the training state at every save, the run's peak memory."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        with atomic_open(path) as handle:
            torch.save(checkpoint, handle)


def fit(trainer: Trainer, parsed: Parsed, best: ModelCheckpoint) -> Fitted:
    """Fit (unless ``--fit false``; ``--ckpt_path`` resumes) and say how it went.

    Taken now, not when the record is written: predicting with best.ckpt loads that earlier
    epoch's checkpoint, which must not erase why (and when) fitting stopped.
    """
    config = parsed.config
    started, cpu_started = time.perf_counter(), time.process_time()
    if config["fit"]:
        trainer.fit(parsed.model, datamodule=parsed.datamodule, ckpt_path=config.get("ckpt_path"), weights_only=True)
        if not best.best_model_path:  # ended before any validation: the final weights are the best
            trainer.save_checkpoint(best_path(parsed), weights_only=True)
    score = best.best_model_score
    training = TrainingRecord(
        stopped_by=stopped_by(trainer) if config["fit"] else "none",
        steps=int(trainer.global_step),
        epochs=int(trainer.current_epoch),
        monitor=config["monitor"],
        best_dev=float(score) if score is not None else None,
        train_seconds=round(time.perf_counter() - started, 1),
        checks_since_best=checks_since_best(trainer) if config["fit"] else None,
        device=device_name(trainer.strategy.root_device),
        params_total=sum(p.numel() for p in parsed.model.parameters()),
        params_trainable=sum(p.numel() for p in parsed.model.parameters() if p.requires_grad),
    )
    return Fitted(training, time.process_time() - cpu_started)


def device_name(device: torch.device) -> str:
    """``cuda: NVIDIA H100 80GB HBM3`` or ``cpu (x86_64, 1 threads)``: what a run's seconds were spent on."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"{device.type} ({platform.machine()}, {torch.get_num_threads()} threads)"


def best_path(parsed: Parsed) -> Path:
    return RunDir(parsed.run_dir).best


def best_checkpoint(parsed: Parsed) -> str | None:
    """``best.ckpt`` when this run trained, else None (evaluate the model as loaded)."""
    path = best_path(parsed)
    return str(path) if parsed.config["fit"] and path.is_file() else None


def load_best_weights(parsed: Parsed) -> None:
    """The model back to its :func:`best_checkpoint`'s weights (as it is when this run did not train)."""
    checkpoint = best_checkpoint(parsed)
    if checkpoint is not None:
        parsed.model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"])


def predict_splits(
    trainer: Trainer, parsed: Parsed, fitted: Fitted | None = None
) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    """The data module's predict loaders through the module's ``predict_step`` with ``best.ckpt``:
    one list of ``(index (B,), probs (B, C))`` per loader. With ``fitted``, its record gets the
    wall seconds per predicted item (checkpoint load included): the run's inference cost.

    Under DDP each rank predicts its share of every loader's batches and every rank gets
    all the outputs (:mod:`workbench.distributed`): each item is predicted once.
    """
    started = time.perf_counter()
    outputs = _predict(trainer, parsed)
    if fitted is not None:
        predicted = sum(len(index) for part in outputs for index, _ in part)
        fitted.training.predict_seconds_per_item = round((time.perf_counter() - started) / max(1, predicted), 5)
    return outputs


def _predict(trainer: Trainer, parsed: Parsed) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    model, data, checkpoint = parsed.model, parsed.datamodule, best_checkpoint(parsed)
    rank, world = rank_and_world()
    if world == 1:
        outputs = trainer.predict(model, datamodule=data, ckpt_path=checkpoint, weights_only=True)
        return [outputs] if len(trainer.num_predict_batches) == 1 else list(outputs)
    data.setup("predict")
    loaders = data.predict_dataloader()
    loaders = [rank_share(loader, rank, world) for loader in (loaders if isinstance(loaders, list) else [loaders])]
    # a split of fewer batches than ranks leaves some rank without any: nothing to predict there
    model.allow_zero_length_dataloader_with_multiple_devices = True
    outputs = trainer.predict(model, dataloaders=loaders, ckpt_path=checkpoint, weights_only=True)
    if outputs is None:  # no batch at all on this rank
        outputs = [[] for _ in loaders]
    elif len(loaders) == 1:
        outputs = [outputs]
    mine = [[(index.cpu(), probs.cpu()) for index, probs in part] for part in outputs]
    return [sum(parts, []) for parts in zip(*gathered(mine), strict=True)]


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


def seed_of(parsed: Parsed) -> int:
    return int(parsed.config.get("seed_everything") or 0)


def class_predictions(parsed: Parsed, outputs: list, system: str, **columns) -> list[Prediction]:
    """Prediction records of ``data.predict_splits`` (evaluated splits, then dev) from their outputs;
    ``columns``: per-split functions ``items -> values`` of extra columns (``transcripts``, ``romanized``)."""
    data, records = parsed.datamodule, []
    if len(outputs) < len(data.predict_splits):
        raise RuntimeError(f"{len(outputs)} prediction loaders for splits {data.predict_splits}")
    for split, part in zip(data.predict_splits, outputs, strict=False):  # any further loaders: the caller's
        items = data.eval_items(split)
        probs = probs_in_order(part, len(items), f"split '{split}'")
        extra = {name: values(items) for name, values in columns.items()}
        records += make_predictions(items, probs, split, system, data.protocol.tag, seed_of(parsed), **extra)
    return records


def items_digest(items) -> str:
    """A digest of the items a run used (ids, content ids, languages, labels, splits, texts)."""
    rows = sorted((i.split, i.id, i.content_id, i.language, i.label, i.text or "") for i in items)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]


def run_record(parsed: Parsed, fitted: Fitted, *, path: str, modality: str, system: str, model: dict) -> RunRecord:
    """The run record: what the run is (path, modality, system, model), on which data, how it trained."""
    data = parsed.datamodule
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
        path=path,
        modality=modality,
        system=system,
        protocol=protocol,
        seed=seed_of(parsed),
        label_names=list(data.label_names),
        data={"source": f"{type(source).__module__}.{type(source).__qualname__}", "digest": items_digest(every)},
        model=model,
        training=fitted.training,
        tuning=parsed.config.get("tuning"),
        version=package_version(),
        commit=git_commit(),
    )


def write_run(
    trainer: Trainer, parsed: Parsed, record: RunRecord, records: list[Prediction] | None, sections: dict
) -> dict | None:
    """The run directory (:meth:`RunDir.write <workbench.runs.RunDir.write>`): predictions of the evaluated
    splits, dev predictions, then the metrics with ``record`` and the program's ``sections``; rank 0 only.
    ``records`` None: a run without class predictions (a recognizer)."""
    if not trainer.is_global_zero:
        return None
    data, run = parsed.datamodule, RunDir(parsed.run_dir)
    meta = getattr(getattr(data, "corpus", None), "meta", None) or {}
    # what loading did to the data: bad items skipped (on_bad_item: skip), romanizations derived
    checks = {key: meta[key] for key in ("skipped", "romanized") if key in meta}
    if checks:
        sections = {**sections, "data_checks": checks}
    if records is None:
        return run.write(record, None, sections=sections)
    evaluated = set(data.eval_splits)
    dev = [r for r in records if r.split == "dev"]
    return run.write(record, [r for r in records if r.split in evaluated], dev, sections)


def report_accuracy(run_dir: Path, metrics: dict | None) -> None:
    """One line per evaluated split: its accuracy."""
    for split, scores in (metrics or {}).get("splits", {}).items():
        log.warning("%s %s: accuracy %.3f", run_dir, split, scores["overall"]["accuracy"])
