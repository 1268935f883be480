"""The run record (workbench.record): what the sweep, the report and the demo read instead of names.

Written from its contract: a record survives ``metrics.json`` unchanged, a run is its ``path``
on its ``modality``, its tag is a label only, and a record that cannot be trusted (unknown path
or modality, another schema, unknown field, none at all) is refused with an error naming the
file and field.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from workbench.errors import DataError
from workbench.record import (
    MODALITIES,
    PATHS,
    SCHEMA,
    ProtocolRecord,
    RunRecord,
    TrainingRecord,
    git_commit,
    package_version,
)
from workbench.runs import RunDir


def record(path: str = "cascade", modality: str = "speech", **fields) -> RunRecord:
    protocol = ProtocolRecord("zero_shot", ["eng", "rus"], ["eng", "rus", "tha"])
    training = TrainingRecord("early_stopping", 120, 4, "val/acc", 0.81, 12.5, 2)
    return RunRecord(path, modality, "ca-romanized", protocol, 3, ["a", "b"], model={"script": "romanized"},
                     training=training, version="0.1.0", commit="abc", **fields)  # fmt: skip


def test_a_record_survives_metrics_json_unchanged(tmp_path):
    original = record()
    RunDir(tmp_path).write(original, [])
    back = RunDir(tmp_path).record()
    assert back == original and back.schema == SCHEMA
    assert isinstance(back.protocol, ProtocolRecord) and isinstance(back.training, TrainingRecord)
    assert back.to_dict()["training"]["checks_since_best"] == 2 and back.to_dict()["protocol"]["sources"] == [
        "eng",
        "rus",
    ]


def test_defaults_of_a_record_written_before_training():
    bare = RunRecord("e2e", "image", "e2e-clip", {"name": "all_languages", "sources": [], "targets": ["eng"]}, 0)
    assert bare.training == TrainingRecord() and bare.training.stopped_by == "none" and bare.training.steps == 0
    assert bare.training.monitor is None and bare.training.best_dev is None and bare.training.checks_since_best is None
    assert (bare.label_names, bare.data, bare.model, bare.version, bare.commit) == ([], {}, {}, "", None)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("modality", MODALITIES)
def test_path_and_modality_compose(path, modality):
    back = RunRecord.from_dict(record(path, modality).to_dict())
    assert (back.path, back.modality) == (path, modality)


def test_tag_is_a_display_label():
    assert ProtocolRecord("zero_shot", ["eng"], ["rus"]).tag == "zero_shot-eng"
    assert ProtocolRecord("in_language", ["eng", "rus"], ["eng"]).tag == "in_language-eng+rus"
    assert ProtocolRecord("all_languages", ["eng", "rus"], ["eng"]).tag == "all_languages"
    assert ProtocolRecord("in_language", [], ["eng"]).tag == "in_language"


def test_untrustworthy_records_are_refused_naming_file_and_field(tmp_path):
    with pytest.raises(DataError, match=r"run record.*path.*'vision' is not one of"):
        record("vision")
    with pytest.raises(DataError, match=r"run record.*modality.*'video' is not one of"):
        record("e2e", "video")
    newer = record().to_dict() | {"schema": SCHEMA + 1}
    with pytest.raises(DataError, match=rf"runs/x/metrics.json.*'record\.schema'.*schema {SCHEMA + 1} is newer"):
        RunRecord.from_dict(newer, where="runs/x/metrics.json")
    assert RunRecord.from_dict(record().to_dict() | {"schema": SCHEMA}) == record()
    with pytest.raises(DataError, match=r"m.json.*'record'.*malformed run record.*colour"):
        RunRecord.from_dict(record().to_dict() | {"colour": "red"}, where="m.json")
    (tmp_path / "metrics.json").write_text(json.dumps({"splits": {}}))
    with pytest.raises(DataError, match=rf"{tmp_path / 'metrics.json'}.*'record'.*no run record"):
        RunDir(tmp_path).record()


def test_version_and_commit_of_the_checkout():
    assert package_version() == "0.1.0"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    commit = git_commit()
    assert commit is not None and commit.removesuffix("+dirty") == head


def test_a_record_of_an_older_schema_is_refused_not_translated():
    written = record().to_dict()
    for older in ({k: v for k, v in written.items() if k != "schema"}, written | {"schema": SCHEMA - 1}):
        with pytest.raises(DataError, match=r"^run record.*'record\.schema'.*older than this code.s; rerun"):
            RunRecord.from_dict(older)


def test_version_outside_an_installed_package_is_unknown(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert package_version() == "unknown"


def refusal(build) -> tuple[str, str, str]:
    with pytest.raises(DataError) as refused:
        build()
    return refused.value.where, refused.value.field, refused.value.problem


def test_each_refusal_names_exactly_the_file_the_field_and_what_to_do():
    """A reader prints ``where`` and ``field`` to point at the fault; a pattern that matches part of
    the message would pass a misspelt field or file."""
    assert refusal(lambda: record("vision")) == ("run record", "path", f"'vision' is not one of {PATHS}")
    assert refusal(lambda: record("e2e", "video")) == ("run record", "modality", f"'video' is not one of {MODALITIES}")
    older = record().to_dict() | {"schema": SCHEMA - 1}
    assert refusal(lambda: RunRecord.from_dict(older, where="m.json")) == (
        "m.json",
        "record.schema",
        f"schema {SCHEMA - 1} is older than this code's; rerun the run ({SCHEMA})",
    )
