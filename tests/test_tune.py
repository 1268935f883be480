"""python -m workbench.tune: the same Optuna budget for every system, judged on dev only, resumable
after a kill, pruned through a real Lightning run, and stated in the run record and the report."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.helpers.kill_mid_point import kill_mid_point, running_points
from tests.helpers.report_runs import item_rows, write_run
from tests.helpers.speech_runs import tiny_args
from tests.helpers.sweep_program import program_sweep, repo_on_path
from workbench.errors import ConfigError
from workbench.report.build import build_report
from workbench.runs import read_record
from workbench.tune.__main__ import main as tune_main
from workbench.tune.pruning import PRUNED_AT
from workbench.tune.study import load_plan

REPO = Path(__file__).resolve().parents[1]
SPACE = {"model.optim.lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True}, "model.dropout": {"low": 0.0, "high": 0.5}}
STUDIES = ["ca-test/in_language-eng", "ca-test/zero_shot-eng", "e2e-test/in_language-eng", "e2e-test/zero_shot-eng"]


@pytest.fixture(autouse=True)
def program_on_path(monkeypatch):
    repo_on_path(monkeypatch)


def tune_file(tmp_path: Path, trials: int = 3, systems=("e2e-test", "ca-test"), **args) -> Path:
    """A sweep of the test program's ``systems``, each searching :data:`SPACE`; tuned protocols
    in_language and zero_shot, all_languages left out."""
    spec = program_sweep(
        tmp_path,
        {name: {"search_space": SPACE} for name in systems},
        args=args,
        tune={"trials": trials, "protocols": ["in_language", "zero_shot"]},
    )
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def storage_of(out: Path) -> str:
    return f"sqlite:///{out / 'tune' / 'studies.db'}"


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))


def test_every_system_gets_the_same_budget_and_the_record_and_report_say_so(tmp_path):
    assert tune_main(["-c", str(tune_file(tmp_path))]) == 0
    out = tmp_path / "out-tuned"
    assert sorted(optuna.study.get_all_study_names(storage_of(out))) == STUDIES
    for name in STUDIES:
        study = optuna.load_study(study_name=name, storage=storage_of(out))
        assert len(finished(study)) == 3
        system, protocol = name.split("/")
        for seed in (0, 1):  # the best settings, run with every seed of the sweep
            record = read_record(out / "runs" / system / protocol / f"seed{seed}")
            assert record.tuning["trials"] == 3 and record.tuning["search_space"] == SPACE
            assert record.tuning["best_params"] == study.best_params and record.tuning["study"].endswith(name)
            config = (out / "runs" / system / protocol / f"seed{seed}" / "run.log").read_text()
            assert f"--model.optim.lr={study.best_params['model.optim.lr']}" in config
    assert not (out / "runs" / "e2e-test" / "all_languages").exists()  # not a tuned protocol
    with (out / "report" / "tuning.csv").open() as handle:
        budget = list(csv.DictReader(handle))
    assert {(r["group"], r["system"], r["trials"], r["runs"]) for r in budget} == {
        (group, system, "3", "2") for group in ("in_language", "zero_shot-eng") for system in ("e2e-test", "ca-test")
    }
    report = (out / "report" / "report.md").read_text()
    assert "## Tuning budget" in report and "| in_language | speech | e2e-test | 3 |" in report
    assert "tuning" not in (out / "report" / "warnings.csv").read_text()  # equal budgets: nothing to flag
    assert not list((out / "report").glob("*trial*"))  # the trials are not results
    assert "/tune/" not in (out / "report" / "table_test.csv").read_text()


def test_a_trial_is_judged_on_dev_only(tmp_path):
    """The same settings give the same objective whatever the trial's test predictions are."""
    path = tune_file(tmp_path, trials=3, systems=("e2e-test",))
    values = {}
    for shift in (0, 2):
        out = tmp_path / f"shift{shift}"
        # one trial at a time: with two, which trials the pruner compares depends on the machine's load
        args = ["-c", str(path), "--out", str(out), f"--set=--test_shift={shift}", "--no-report", "--workers", "1"]
        assert tune_main(args) == 0
        study = optuna.load_study(study_name="e2e-test/in_language-eng", storage=storage_of(out))
        values[shift] = [(t.params, t.value) for t in finished(study)]
        trial = out / "tune" / "e2e-test" / "in_language-eng" / "trial000" / "metrics.json"
        values[f"test{shift}"] = json.loads(trial.read_text())["splits"]["test"]["overall"]["accuracy"]
    assert values["test0"] != values["test2"]  # the test predictions did change
    assert values[0] == values[2]


def test_killed_tune_run_resumes_without_repeating_finished_trials(tmp_path):
    path = tune_file(tmp_path, trials=4, systems=("e2e-test",), **{"--sleep": 1.0})
    spec = yaml.safe_load(path.read_text())
    spec["tune"]["protocols"] = ["in_language"]  # one study of 4 trials
    path.write_text(yaml.safe_dump(spec))
    command = [sys.executable, "-m", "workbench.tune", "-c", str(path), "--workers", "1", "--no-report"]
    trials = tmp_path / "out-tuned" / "tune"
    done = kill_mid_point(command, trials)  # 2 trials done, the next one's process running
    deadline = time.monotonic() + 120
    assert 2 <= len(done) < 4
    while running_points(trials) and time.monotonic() < deadline:  # the killed trial's process ends with it
        time.sleep(0.05)

    assert tune_main(["-c", str(path), "--workers", "1", "--no-report"]) == 0
    study = optuna.load_study(study_name="e2e-test/in_language-eng", storage=storage_of(tmp_path / "out-tuned"))
    assert len(finished(study)) == 4  # the budget, not more: finished trials were not asked again
    after = {p: p.stat().st_mtime_ns for p in trials.rglob("metrics.json")}
    assert len(after) == 4 and all(after[p] == stamp for p, stamp in done.items())
    killed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert len(killed) == 1  # the trial the kill cut short: its settings ran again
    retried = [t for t in finished(study) if t.user_attrs.get("retry_of") == killed[0].number]
    assert len(retried) == 1 and retried[0].params == killed[0].params
    assert read_record(tmp_path / "out-tuned" / "runs" / "e2e-test" / "in_language-eng" / "seed1").tuning["trials"] == 4


@pytest.mark.parametrize(
    ("key", "entry", "says"),
    [
        ("model.optim.lr", {"low": 1.0e-2, "high": 1.0e-3}, "needs numbers low < high"),
        ("model.optim.lr", {"low": 0.0, "high": 1.0e-3, "log": True}, "a log range needs low > 0"),
        ("model.optim.lr", {"low": 1.0e-3, "hgh": 1.0e-2}, "unknown key(s) ['hgh']"),
        ("model.optim.lr", 0.003, "expected {low, high[, log, step]} or {choices: [...]}"),
        ("model.dropout", {"choices": []}, "a categorical entry is {choices: [a, b, ...]} (non-empty)"),
        ("--model.dropout", {"low": 0.0, "high": 0.5}, "write the config key without '--'"),
    ],
)
def test_a_bad_search_space_entry_is_one_line_naming_system_and_key(tmp_path, capsys, key, entry, says):
    path = tune_file(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["systems"]["ca-test"]["search_space"] = {key: entry}
    path.write_text(yaml.safe_dump(spec))
    assert tune_main(["-c", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: sweep file {path}: systems.ca-test.search_space.{key}: ") and "\n" not in error
    assert says in error
    assert not (tmp_path / "out-tuned").exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("tune", "trials", "says"),
    [
        ({"trails": 3}, None, "tune: unknown key(s) ['trails']"),
        ({"trials": 3}, 0, "tune.trials (or --trials) must be a whole number >= 1, got 0"),
        ({"trials": 3, "protocols": ["few_shot"]}, None, "tune.protocols: 'few_shot' is not a protocol"),
        ({"trials": 3, "pruner": {"patience": 2}}, None, "tune.pruner:"),
    ],
)
def test_a_bad_tune_section_is_one_line(tmp_path, tune, trials, says):
    path = tune_file(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["tune"] = tune
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="^sweep file ") as error:
        load_plan(path, None, None, trials)
    assert says in str(error.value) and "\n" not in str(error.value)


def test_unequal_and_missing_budgets_are_flagged(tmp_path):
    rows = item_rows("eng", [True, False, True])

    def tuned(trials: int) -> dict:
        return {"trials": trials, "search_space": SPACE, "study": "s#x", "best_params": {}, "best_dev": 0.5}

    for seed in (0, 1):
        common = {"protocol": "in_language", "sources": ["eng"], "seed": seed}
        write_run(tmp_path / f"e2e{seed}", rows, system="e2e-conv", tuning=tuned(6), **common)
        write_run(tmp_path / f"nat{seed}", rows, path="cascade", system="ca-native", tuning=tuned(3), **common)
        write_run(tmp_path / f"rom{seed}", rows, path="cascade", system="ca-romanized", **common)
        # a table where nothing was tuned: an equal (zero) budget, nothing to flag
        write_run(tmp_path / f"zs-e2e{seed}", rows, system="e2e-conv", sources=["eng"], seed=seed)
        write_run(tmp_path / f"zs-rom{seed}", rows, path="cascade", system="ca-romanized", sources=["eng"], seed=seed)
    out = build_report(tmp_path)
    with (out / "warnings.csv").open() as handle:
        flagged = {(Path(r["run_dir"]).name, r["detail"]) for r in csv.DictReader(handle) if r["check"] == "tuning"}
    assert flagged == {
        *((f"nat{s}", "ca-native in in_language was tuned with 3 trials, others 6") for s in (0, 1)),
        *(
            (f"rom{s}", "ca-romanized in in_language was not tuned; others had 6 trials: unequal budgets")
            for s in (0, 1)
        ),
    }
    report = (out / "report.md").read_text()
    assert "| in_language | speech | ca-romanized | untuned | – | 2 |" in report
    assert "| zero_shot-eng | speech | e2e-conv | untuned | – | 2 |" in report


@pytest.fixture(scope="module")
def root(tiny_corpus, tiny_root):
    return tiny_root


def test_a_real_trial_below_the_median_is_pruned_stops_and_records_its_tuning(root, tmp_path):
    """speech.fit with the tuner's arguments: the pruning callback from the command line, on a
    study whose earlier trials were perfect at every dev check, and ``--tuning`` in its record."""
    from speech.fit import main

    storage, name = f"sqlite:///{tmp_path / 'studies.db'}", "e2e-conv/in_language-eng"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for _ in range(2):
        study.add_trial(optuna.trial.create_trial(value=1.0, intermediate_values={e: 1.0 for e in range(10)}))
    trial = study.ask()
    pruner = {"n_startup_trials": 1, "n_warmup_steps": 1}
    callback = {
        "class_path": "workbench.tune.pruning.TrialPruning",
        "init_args": {"storage": storage, "study": name, "trial": trial.number, "pruner": pruner},
    }
    tuning = {"trials": 6, "search_space": SPACE, "study": f"studies.db#{name}", "best_params": {}, "best_dev": 1.0}
    run = tmp_path / "trial"
    stop_rules = ["--trainer.max_epochs=8", "--trainer.max_steps=-1", "--trainer.min_steps=0", "--trainer.logger=false"]
    main(
        tiny_args(
            root, run, *stop_rules, f"--trainer.callbacks+={json.dumps(callback)}", f"--tuning={json.dumps(tuning)}"
        )
    )
    reported = study.trials[trial.number]
    assert reported.user_attrs[PRUNED_AT] == 1  # after the warm-up epoch, below the median of 1.0
    assert sorted(reported.intermediate_values) == [0, 1]  # one dev check an epoch, then it stopped
    record = read_record(run)
    assert record.training.epochs == 2 and record.tuning == tuning


def test_the_shipped_embedded_sweep_declares_an_equal_budget(monkeypatch):
    root = REPO
    monkeypatch.chdir(root)  # sweep files name configs relative to the repository root
    plan = load_plan(root / "configs" / "sweeps" / "embedded.yaml", None, None, None)
    assert set(plan.spaces) == {p.system for p in plan.sweep.points} and all(plan.spaces.values())
    assert plan.protocols == ["in_language", "zero_shot"] and plan.trials >= 1
    assert plan.sweep.out_dir == Path("sweeps/embedded-tuned")  # beside the untuned sweep, not inside it
