"""The run record (workbench.record): what the sweep, the report and the demo read instead of names.

Written from its contract: a record survives ``metrics.json`` unchanged, its ``path`` pairs
E2E with cascades, its tag is a label only, and a record that cannot be trusted (unknown kind,
newer schema, unknown field, none at all) is refused with an error naming the file and field.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from workbench.errors import DataError
from workbench.record import (
    KINDS,
    SCHEMA,
    ProtocolRecord,
    RunRecord,
    TrainingRecord,
    git_commit,
    package_version,
    read_record,
)


def record(kind: str = "cascade", **fields) -> RunRecord:
    protocol = ProtocolRecord("zero_shot", ["eng", "rus"], ["eng", "rus", "tha"])
    training = TrainingRecord("early_stopping", 120, 4, "val/acc", 0.81, 12.5, 2)
    return RunRecord(kind, "ca-romanized", "speech", protocol, 3, ["a", "b"], model={"script": "romanized"},
                     training=training, version="0.1.0", commit="abc", **fields)  # fmt: skip


def test_a_record_survives_metrics_json_unchanged(tmp_path):
    original = record()
    (tmp_path / "metrics.json").write_text(json.dumps({"record": original.to_dict(), "splits": {}}))
    back = read_record(tmp_path)
    assert back == original and back.schema == SCHEMA
    assert isinstance(back.protocol, ProtocolRecord) and isinstance(back.training, TrainingRecord)
    assert back.to_dict()["training"]["checks_since_best"] == 2 and back.to_dict()["protocol"]["sources"] == [
        "eng",
        "rus",
    ]


def test_defaults_of_a_record_written_before_training():
    bare = RunRecord("vision", "e2e-clip", "image", {"name": "all_languages", "sources": [], "targets": ["eng"]}, 0)
    assert bare.training == TrainingRecord() and bare.training.stopped_by == "none" and bare.training.steps == 0
    assert bare.training.monitor is None and bare.training.best_dev is None and bare.training.checks_since_best is None
    assert (bare.label_names, bare.data, bare.model, bare.version, bare.commit) == ([], {}, {}, "", None)


@pytest.mark.parametrize(
    "kind, path", [("e2e", "e2e"), ("vision", "e2e"), ("cascade", "cascade"), ("recognizer", "e2e")]
)
def test_path_pairs_e2e_with_cascades(kind, path):
    assert kind in KINDS and record(kind).path == path


def test_tag_is_a_display_label():
    assert ProtocolRecord("zero_shot", ["eng"], ["rus"]).tag == "zero_shot-eng"
    assert ProtocolRecord("in_language", ["eng", "rus"], ["eng"]).tag == "in_language-eng+rus"
    assert ProtocolRecord("all_languages", ["eng", "rus"], ["eng"]).tag == "all_languages"
    assert ProtocolRecord("in_language", [], ["eng"]).tag == "in_language"


def test_untrustworthy_records_are_refused_naming_file_and_field(tmp_path):
    with pytest.raises(DataError, match=r"run record.*kind.*'speech' is not one of"):
        record("speech")
    newer = record().to_dict() | {"schema": SCHEMA + 1}
    with pytest.raises(DataError, match=rf"runs/x/metrics.json.*'record\.schema'.*schema {SCHEMA + 1} is newer"):
        RunRecord.from_dict(newer, where="runs/x/metrics.json")
    assert RunRecord.from_dict(record().to_dict() | {"schema": SCHEMA}) == record()
    with pytest.raises(DataError, match=r"m.json.*'record'.*malformed run record.*colour"):
        RunRecord.from_dict(record().to_dict() | {"colour": "red"}, where="m.json")
    (tmp_path / "metrics.json").write_text(json.dumps({"splits": {}}))
    with pytest.raises(DataError, match=rf"{tmp_path / 'metrics.json'}.*'record'.*no run record"):
        read_record(tmp_path)


def test_version_and_commit_of_the_checkout():
    assert package_version() == "0.1.0"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    commit = git_commit()
    assert commit is not None and commit.removesuffix("+dirty") == head


def test_a_record_without_schema_is_schema_one_and_errors_name_metrics_json_by_default():
    written = record().to_dict()
    del written["schema"]  # the first writers left it out
    assert RunRecord.from_dict(written).schema == SCHEMA == 1
    with pytest.raises(DataError, match=r"^metrics\.json.*malformed"):
        RunRecord.from_dict(written | {"colour": "red"})


def test_version_outside_an_installed_package_is_unknown(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert package_version() == "unknown"
