"""Hub corpora speak ISO 639-3: each replica runs through ``speech.fit`` with its shipped overlay over the
embedded base, its languages named by their ISO codes (or the hub's own ids) in ``--data.protocol.sources``.

The replicas (``hub_replicas.py``) use the hubs' own ids: SIB-Fleurs ``eng_Latn``, Speech-MASSIVE ``de-DE``,
MINDS-14 ``en-US`` as a ``lang_id`` ClassLabel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speech.fit import main
from tests.helpers.hub_replicas import minds14_repo, sib_fleurs_repo, speech_massive_repos
from workbench.errors import ConfigError
from workbench.io import read_jsonl

REPO = Path(__file__).resolve().parents[1]
TINY = ["--model.encoder.init_args.dim=16", "--model.encoder.init_args.num_blocks=1", "--trainer.max_steps=2"]
TINY += ["--trainer.min_steps=0", "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false", "--threads=1"]

ZERO_SHOT = ["-c", str(REPO / "configs/protocol/zero_shot.yaml")]
SIB, MASSIVE, MINDS = (
    (sib_fleurs_repo, "[eng_Latn,rus_Cyrl]"),
    (speech_massive_repos, "[de-DE,ko-KR]"),
    (minds14_repo, "[en-US,fr-FR]"),
)
SOURCES = "--data.protocol.sources="
# case: overlay, its replica, the hub configs read, protocol arguments, the record's sources, the languages tested
CASES = {
    # the README's command as printed: the embedded base's protocol (in_language, sources [eng]) over eng_Latn
    "sib_fleurs-readme": ("sib_fleurs", *SIB, [], ["eng"], ["eng"]),
    "sib_fleurs": ("sib_fleurs", *SIB, [f"{SOURCES}[rus]"], ["rus"], ["rus"]),
    "speech_massive": ("speech_massive", *MASSIVE, [f"{SOURCES}[kor]"], ["kor"], ["kor"]),
    "minds14-zero_shot": ("minds14", *MINDS, [*ZERO_SHOT, f"{SOURCES}[fra]"], ["fra"], ["eng", "fra"]),
    # the hub's own id is an alias of its language; the run records the ISO code
    "speech_massive-alias": ("speech_massive", *MASSIVE, [f"{SOURCES}[de-DE]"], ["deu"], ["deu"]),
}  # fmt: skip


def run_overlay(case: str, tmp_path: Path) -> Path:
    overlay, _, configs, protocol, _, _ = CASES[case]
    run = tmp_path / "run"
    main(
        ["-c", str(REPO / "configs/embedded/speech.yaml"), "-c", str(REPO / f"configs/data/{overlay}.yaml")]
        + [f"--data.source.init_args.configs={configs}", f"--data.source.init_args.cache_dir={tmp_path / 'cache'}"]
        + protocol
        + [*TINY, f"--run_dir={run}"]
    )
    return run


@pytest.mark.parametrize("case", sorted(CASES))
def test_hub_replica_runs_with_iso_codes(case, hub_cache, tmp_path):
    CASES[case][1](hub_cache)
    run = run_overlay(case, tmp_path)
    record = json.loads((run / "metrics.json").read_text())["record"]
    sources, tested = CASES[case][4:]
    assert record["protocol"]["sources"] == sources and record["protocol"]["targets"] == tested
    predictions = list(read_jsonl(run / "predictions.jsonl"))
    assert predictions and {p["language"] for p in predictions} == set(tested)
    assert all(p["protocol"].endswith("-".join(sources)) for p in predictions)  # the tag names the ISO code too


def test_unknown_language_is_still_refused_with_the_iso_codes(hub_cache, tmp_path):
    sib_fleurs_repo(hub_cache)
    with pytest.raises(ConfigError, match=r"unknown language\(s\) \['ukr'\]; the corpus has \['eng', 'rus'\]"):
        main(
            ["-c", str(REPO / "configs/embedded/speech.yaml"), "-c", str(REPO / "configs/data/sib_fleurs.yaml")]
            + ["--data.source.init_args.configs=[eng_Latn,rus_Cyrl]", f"--data.source.init_args.cache_dir={tmp_path}"]
            + ["--data.protocol.sources=[ukr]", *TINY, f"--run_dir={tmp_path / 'run'}"]
        )


def test_language_table_refusal_names_the_row(tmp_path):
    from workbench.data.hub import item_language
    from workbench.errors import DataError

    assert item_language("uk-UA", "row 3") == ("ukr", "uk-UA") and item_language("tha", "row 4") == ("tha", None)
    with pytest.raises(DataError, match="row 7.*language.*'xx-YY'"):
        item_language("xx-YY", "row 7")
