"""The program layer (workbench.program): the run record and why training stopped, the one-line
error at entry, and ``load_run`` on every path and modality."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.speech_runs import tiny_args
from workbench.errors import ConfigError, DataError
from workbench.program import entry
from workbench.runs import read_record

REPO = Path(__file__).resolve().parents[1]


def speech_args(root: Path, run_dir: Path, *extra: str) -> list[str]:
    """test_speech_fit's tiny run, smaller still and without loggers."""
    return tiny_args(root, run_dir, "--model.encoder.init_args.num_blocks=1", "--trainer.logger=false", *extra)


@pytest.fixture(scope="module")
def root(tiny_corpus, tiny_root):
    return tiny_root


def test_record_of_a_max_steps_run(root, tmp_path):
    from speech.fit import main

    cli = main(speech_args(root, tmp_path / "run", "--trainer.max_steps=3", "--trainer.max_epochs=50"))
    record = read_record(tmp_path / "run")
    assert record.path == "e2e" and record.modality == "speech" and record.system == "e2e-conv"
    assert record.training.stopped_by == "max_steps" and record.training.steps == 3
    assert record.training.monitor == "val/acc" and record.training.train_seconds >= 0
    assert record.protocol.name == "in_language" and record.protocol.sources == ["eng"]
    assert record.protocol.targets == ["eng"] and record.seed == 0
    assert record.data["source"] == "speech.sources.Embedded" and len(record.data["digest"]) == 16
    assert record.model["encoder"] == "ConvEncoder" and record.version and record.label_names
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
    # dev predictions for calibration, apart from the evaluated splits
    dev = [json.loads(line) for line in (tmp_path / "run" / "dev_predictions.jsonl").read_text().splitlines()]
    assert dev and {row["split"] for row in dev} == {"dev"}
    assert len(dev) == len(cli.datamodule.eval_items("dev"))


def test_record_of_early_stopping_and_of_max_epochs(root, tmp_path):
    from speech.fit import main

    # a threshold every validation loss meets: early stopping ends the run after its first epoch
    stop = [
        "--trainer.min_steps=0",  # the shipped config's minimum budget would hold the stop back
        "--trainer.callbacks+=workbench.early_stopping.EarlyStopping",
        "--trainer.callbacks.monitor=val/loss",
        "--trainer.callbacks.mode=min",
        "--trainer.callbacks.stopping_threshold=1000000.0",
    ]
    main(speech_args(root, tmp_path / "early", "--trainer.max_epochs=5", *stop))
    record = read_record(tmp_path / "early")
    assert record.training.stopped_by == "early_stopping" and record.training.epochs == 1
    assert record.training.best_dev is not None
    main(speech_args(root, tmp_path / "epochs", "--trainer.max_epochs=1"))
    assert read_record(tmp_path / "epochs").training.stopped_by == "max_epochs"


def test_a_patience_stop_is_recorded_after_predicting_with_an_earlier_best(root, tmp_path):
    """Predicting with ``best.ckpt`` restores that epoch's callback states (a waiting early
    stopping): why fitting ended must be taken before, or a patience stop reads as ``interrupted``."""
    from speech.fit import main

    stop = [
        "--trainer.min_steps=0",
        # the shipped config's early stopping (val/acc, max), made impatient
        "--trainer.callbacks.patience=1",
        "--trainer.callbacks.min_delta=2.0",  # no accuracy improves by 2: patience runs out at once
        # best.ckpt by the highest dev loss: the first epoch's, saved before early stopping decided
        "--monitor=val/loss",
    ]
    main(speech_args(root, tmp_path / "run", "--trainer.max_epochs=6", *stop))
    training = read_record(tmp_path / "run").training
    assert training.stopped_by == "early_stopping" and training.epochs == 2 and training.steps < 6 * 8
    assert training.checks_since_best == 1  # the patience it ran out of


def test_last_checkpoint_is_the_end_state_not_the_best(root, tmp_path):
    """``last.ckpt`` resumes where training ended, whichever epoch was best.

    A learning rate of 0 keeps the dev accuracy constant, so the first epoch stays the best
    (a tie is no improvement); Lightning's own ``save_last`` on the best callback would then
    leave ``last.ckpt`` at that first step."""
    import torch

    from speech.fit import main

    main(
        speech_args(
            root, tmp_path / "run", "--trainer.max_epochs=3", "--model.optim.lr=0", "--model.optim.weight_decay=0"
        )
    )
    record = read_record(tmp_path / "run")
    checkpoints = tmp_path / "run" / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=True)
    best = torch.load(checkpoints / "best.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == record.training.steps and last["epoch"] == 2
    assert best["global_step"] < last["global_step"]


def failing(error: Exception):
    def main(argv):
        raise error

    return main


def test_entry_turns_workbench_errors_into_one_line_and_status_2(capsys, monkeypatch):
    monkeypatch.delenv("XLING_DEBUG", raising=False)
    problem = DataError("item 'eng-1'", "audio", "file is truncated (x.flac)")
    with pytest.raises(SystemExit) as stopped:
        entry(failing(problem), [])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: item 'eng-1' field 'audio': file is truncated (x.flac)\n"
    # --debug (or XLING_DEBUG=1) shows the traceback: the error propagates
    with pytest.raises(ConfigError):
        entry(failing(ConfigError("data.script: 'x'")), ["--debug"])
    monkeypatch.setenv("XLING_DEBUG", "1")
    with pytest.raises(ConfigError):
        entry(failing(ConfigError("data.script: 'x'")), [])
    # other errors are bugs: never swallowed
    monkeypatch.delenv("XLING_DEBUG")
    with pytest.raises(ZeroDivisionError):
        entry(failing(ZeroDivisionError()), [])


def test_a_program_names_the_bad_setting_in_one_line(root, tmp_path):
    cmd = [sys.executable, "-m", "speech.fit", *speech_args(root, tmp_path / "bad", "--data.protocol.sources=[xxx]")]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: protocol.sources: unknown language(s) ['xxx']") and "Traceback" not in result.stderr


@pytest.mark.parametrize("program", ["fit", "fit_asr", "fit_ocr"])
def test_a_renamed_key_is_refused_in_one_line_naming_the_new_one(program, tmp_path):
    """data.text (cascade.fit) and data.target (fit_asr, fit_ocr) became data.script."""
    import importlib

    main = importlib.import_module(f"cascade.{program}").main
    old = "data.text" if program == "fit" else "data.target"
    with pytest.raises(ConfigError, match=rf"^--{old} is now --data.script \(same values\)$"):
        main([f"--{old}=native", f"--run_dir={tmp_path / 'run'}"])
    overlay = tmp_path / "old.yaml"
    overlay.write_text(f"data:\n  {old.split('.')[1]}: native\n")
    with pytest.raises(ConfigError, match=rf"old.yaml: {old} is now data.script"):
        main(["-c", str(overlay), f"--run_dir={tmp_path / 'run'}"])


@pytest.mark.parametrize(
    "module, old, new",
    [("cascade.fit", "system", "model.system"), ("vision.fit", "model.prompts.script", "data.script")],
)
def test_a_key_of_the_old_vocabulary_is_refused_naming_the_new_one(module, old, new, tmp_path):
    import importlib

    main = importlib.import_module(module).main
    with pytest.raises(ConfigError, match=rf"^--{old} is now --{new} \(same values\)$"):
        main([f"--{old}=romanized", f"--run_dir={tmp_path / 'run'}"])


PROGRAMS = {
    "speech.fit": "configs/embedded/speech.yaml",
    "cascade.fit": "configs/embedded/cascade.yaml",
    "cascade.fit_asr": "configs/embedded/asr.yaml",
    "cascade.fit_ocr": "configs/embedded/ocr.yaml",
    "vision.fit": "configs/embedded/vision.yaml",
    "vision.fit_vlm": "configs/vision/qwen2_vl.yaml",
}


@pytest.mark.parametrize("module", PROGRAMS)
def test_every_program_takes_the_one_vocabulary(module, capsys):
    """The same top-level keys in every program (``fit`` and ``monitor`` included), and
    ``model.system`` wherever a classifier names its system."""
    import importlib

    import yaml

    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["-c", PROGRAMS[module], "--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert {"run_dir", "ckpt_path", "fit", "test", "monitor", "threads", "tuning", "seed_everything"} <= set(config)
    assert config["monitor"] == ("val/cer" if "fit_" in module and "vlm" not in module else "val/acc")
    if module not in ("cascade.fit_asr", "cascade.fit_ocr"):
        assert "system" in config["model"]
    if module.startswith("vision."):  # the prompts' script is the data's alone: no dead model.prompts.script
        assert "script" in config["data"] and "script" not in (config["model"]["prompts"] or {})


@pytest.fixture(scope="module")
def tiny_runs(root, tmp_path_factory):
    """One run of each kind (recognizer, cascade, E2E, vision, OCR cascade) on the tiny corpora, 2 steps each."""
    from apps.training import default_jobs, ensure_trained

    source = [f"--data.source.init_args.root={root}", "--data.source.init_args.tiny=true"]
    steps = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.logger=false", "--threads=1"]
    encoder = ["--model.encoder.init_args.dim=32", "--model.encoder.init_args.num_blocks=1"]
    digits = [f"--data.source.init_args.root={tmp_path_factory.mktemp('digits')}", "--data.source.init_args.tiny=true"]
    text_model = ["--model.model.init_args.num_buckets=4096", "--model.model.init_args.dim=16"]
    extra = {
        "asr": source + steps + encoder,
        "cascade": source + steps + text_model,
        # 3 epochs, whose best dev accuracy is not the last one (checked below): best and last differ, so
        # predictions written or reloaded from last.ckpt cannot pass for the best checkpoint's
        "e2e": source + steps + encoder + ["--trainer.max_epochs=3", "--monitor=val/acc"],
        "vision": digits + steps,
        "ocr": [*source, "--data.source.init_args.languages=[eng, rus]", *steps, *text_model],
    }
    base = tmp_path_factory.mktemp("runs")
    ensure_trained(default_jobs(base, extra=extra), in_process=True, say=lambda message: None)
    return base


def test_load_run_predicts_what_each_run_wrote(tiny_runs, tiny_corpus):
    """The predictor of each path and modality, chosen by the record, gives back the run's own test predictions."""
    import torch

    from workbench.io import read_jsonl
    from workbench.predictor import PREDICTORS, load_run
    from workbench.runs import RunDir

    checkpoints = tiny_runs / "e2e" / "checkpoints"
    best, last = (
        torch.load(checkpoints / f"{n}.ckpt", map_location="cpu", weights_only=True) for n in ("best", "last")
    )
    assert best["global_step"] < last["global_step"]
    assert any(not torch.equal(t, last["state_dict"][k]) for k, t in best["state_dict"].items())
    items = {item.id: item for item in tiny_corpus.items}
    for path, name in (("e2e", "e2e"), ("cascade", "cascade"), ("recognizer", "asr")):
        predictor, run = load_run(tiny_runs / name), RunDir(tiny_runs / name)
        assert type(predictor) is PREDICTORS[(path, "speech")] and (
            predictor.record.path,
            predictor.record.modality,
        ) == (path, "speech")
        assert predictor.checkpoint == run.best
        rows = read_jsonl(run.transcripts_path if path == "recognizer" else run.predictions_path)[::9]
        got = predictor.predict_items([items[row["id"]] for row in rows])
        if path == "recognizer":
            assert got == [row["transcript"] for row in rows]
        else:
            assert got == [pytest.approx(row["probs"], abs=1e-4) for row in rows]
    vision = load_run(tiny_runs / "vision")
    assert type(vision) is PREDICTORS[("e2e", "image")] and (vision.record.path, vision.record.modality) == (
        "e2e",
        "image",
    )
    rows = read_jsonl(tiny_runs / "vision" / "predictions.jsonl")[::20]
    corpus = {item.id: item for item in vision_items(tiny_runs / "vision")}
    got = vision.predict_items([corpus[row["id"]] for row in rows])
    assert got == [pytest.approx(row["probs"], abs=1e-4) for row in rows]


def test_load_run_of_an_image_cascade_reads_items_images_and_paths(tiny_runs):
    """A cascade run whose recognizer is Tesseract (``cascade.fit`` on the text images): its predictor
    reads items by their image, and one image as a PIL image or a path, giving what the run wrote."""
    from PIL import Image

    from cascade.predict import CascadePredictor
    from workbench.io import read_jsonl
    from workbench.items import Item
    from workbench.predictor import load_run

    predictor = load_run(tiny_runs / "ocr")
    # the record's script is the text the classifier reads (romanized), not what Tesseract writes (native)
    assert predictor.record.model["script"] == "romanized" and predictor.recognizer.script == "native"
    assert type(predictor) is CascadePredictor and predictor.record.modality == "image" and predictor.signal == "image"
    rows = read_jsonl(tiny_runs / "ocr" / "predictions.jsonl")[::7]
    items = {item.id: item for item in vision_items(tiny_runs / "ocr")}
    got = predictor.predict_items([items[row["id"]] for row in rows])
    assert got == [pytest.approx(row["probs"], abs=1e-4) for row in rows]
    row = next(r for r in rows if r["language"] == "rus")
    item = items[row["id"]]
    for image in (Image.open(item.image), item.image):
        result = predictor.run_cascade(image, "rus")
        assert result.transcript == row["transcript"] and result.romanized.isascii()
        assert result.probs == pytest.approx(row["probs"], abs=1e-4)
    audio_only = Item(id="x", content_id="c", language="eng", label=0, split="test", audio="a.flac")
    with pytest.raises(DataError, match="item 'x'.*image"):
        predictor.predict_items([audio_only])


def vision_items(run_dir: Path):
    from workbench.predictor import instantiate
    from workbench.runs import RunDir

    return instantiate(RunDir(run_dir).config()["data"]["source"]).load().items


def test_load_run_refuses_a_run_without_a_record(tmp_path):
    (tmp_path / "metrics.json").write_text('{"system": "e2e-conv"}')
    from workbench.predictor import load_run

    with pytest.raises(DataError, match="no run record"):
        load_run(tmp_path)


def test_a_run_stopped_by_sigterm_exits_with_143_not_0(capsys):
    """Lightning stops a fit on SIGTERM with a SystemExit that says 0; the program says 143, as a killed process."""
    import lightning as L
    from lightning.pytorch.demos.boring_classes import BoringModel

    class Stopped(BoringModel):
        def training_step(self, batch, batch_idx):
            if batch_idx == 1:  # as scancel or a preemption would, mid-epoch
                os.kill(os.getpid(), signal.SIGTERM)
            return super().training_step(batch, batch_idx)

    def main(_argv):
        trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
        trainer.fit(Stopped())

    with pytest.raises(SystemExit) as stopped:
        entry(main, [])
    assert stopped.value.code == 128 + signal.SIGTERM
    assert "stopped by SIGTERM before the run finished" in capsys.readouterr().err
