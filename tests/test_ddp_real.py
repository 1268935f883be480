"""DDP on CPU (2 gloo processes) through the real programs, with what a GPU run meets.

- ``speech.fit`` with the shipped SpeechTaxi config's strategy and a wav2vec2 encoder that
  skips layers (layerdrop) behind a frozen feature encoder: both ranks end with the same
  weights, and each evaluated item is predicted by one rank only.
- ``cascade.fit`` started as a cluster starts it (torchrun: every rank at once): each clip
  is transcribed once in all, and ``predictions.jsonl`` holds each test item once, with the
  predictions a single process makes from the same checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import torch
import yaml

from speech.audio import load_audio
from tests.helpers.ddp_testing import clip_digest
from tests.helpers.speech_stand_ins import CONV, LARGE, TRANSFORMER
from workbench.protocols import Protocol

REPO = Path(__file__).resolve().parents[1]
SPEECHTAXI = REPO / "configs" / "speechtaxi.yaml"
EMBEDDED_CASCADE = REPO / "configs" / "embedded" / "cascade.yaml"
LAYERDROP = 0.5  # of 2 layers: a step skips none with probability 1/4, so some step skips one
# what an in-process DDP run of another test leaves in os.environ must not reach these processes
DIST_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in DIST_ENV}
    env["PYTHONPATH"] = str(REPO)  # the programs import tests.helpers.ddp_testing's callbacks
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def layerdrop_wav2vec2(folder: Path) -> Path:
    """A tiny random wav2vec2 (the large checkpoints' layout) that drops layers while training."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(**TRANSFORMER, **CONV, **LARGE, layerdrop=LAYERDROP)
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


def predictions(run_dir: Path, name: str = "predictions.jsonl") -> list[dict]:
    return [json.loads(line) for line in (run_dir / name).read_text().splitlines()]


def test_layerdrop_wav2vec2_trains_under_the_shipped_strategy(tiny_corpus, tiny_root, tmp_path):
    strategy = yaml.safe_load(SPEECHTAXI.read_text())["trainer"]["strategy"]
    encoder = layerdrop_wav2vec2(tmp_path / "w2v")
    run_dir, witness = tmp_path / "run", tmp_path / "witness"
    cmd = [sys.executable, "-m", "speech.fit", "-c", str(SPEECHTAXI)]
    cmd += [
        f"--model.encoder.init_args.name_or_path={encoder}",  # freeze_feature_encoder: true, as shipped
        "--data.source=speech.sources.Embedded",
        f"--data.source.init_args.root={tiny_root}",
        "--data.source.init_args.tiny=true",
        "--data.source.init_args.languages=null",
        "--data.batch_size=4",
        "--data.num_workers=0",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",  # the strategy is the config's
        "--trainer.max_steps=4",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.callbacks+=tests.helpers.ddp_testing.RankWitness",
        f"--trainer.callbacks.folder={witness}",
        f"--model.cache_dir={tmp_path}/cache",
        "--threads=1",
        f"--run_dir={run_dir}",
    ]
    proc = run(cmd)
    assert proc.returncode == 0, f"strategy {strategy}:\n{proc.stderr[-3000:]}"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["record"]["training"]["steps"] == 4
    ranks = [torch.load(witness / f"weights-{rank}.pt") for rank in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    different = [k for k in ranks[0] if not torch.equal(ranks[0][k], ranks[1][k])]
    assert not different, f"the ranks' weights differ: {different[:5]}"
    # the frozen feature encoder stayed as loaded, the transformer layers trained
    from transformers import Wav2Vec2Model

    loaded = Wav2Vec2Model.from_pretrained(encoder).state_dict()
    trained = {k.split("encoder.model.", 1)[1]: v for k, v in ranks[0].items() if k.startswith("encoder.model.")}
    conv = [k for k in loaded if k.startswith("feature_extractor.")]
    assert conv and all(torch.equal(loaded[k], trained[k]) for k in conv)
    assert not torch.equal(
        loaded["encoder.layers.0.attention.q_proj.weight"], trained["encoder.layers.0.attention.q_proj.weight"]
    )
    # evaluation: each item predicted by one rank, and written once
    seen = Counter()
    for rank in (0, 1):
        seen.update(tuple(json.loads(line)) for line in (witness / f"predicted-{rank}.jsonl").read_text().splitlines())
    assert set(seen.values()) == {1}, "an item was predicted by both ranks"
    written = predictions(run_dir) + predictions(run_dir, "dev_predictions.jsonl")
    assert len(seen) == len(written) == len({(p["split"], p["id"]) for p in written})


def cascade_args(tiny_root: Path, tmp_path: Path, run_dir: Path, ctc: Path, *extra: str) -> list[str]:
    return [
        "-c",
        str(EMBEDDED_CASCADE),
        f"--data.source.init_args.root={tiny_root}",
        "--data.source.init_args.tiny=true",
        "--data.recognizer=tests.helpers.ddp_testing.CountingRecognizer",
        f"--data.recognizer.init_args.model={ctc}",
        f"--data.recognizer.init_args.counts={tmp_path}/counts",
        f"--data.cache_dir={tmp_path}/cache",
        "--data.batch_size=8",
        "--trainer.max_steps=6",
        "--trainer.min_steps=0",
        "--threads=1",
        f"--run_dir={run_dir}",
        *extra,
    ]


def test_cascade_transcribes_each_clip_once_and_predicts_each_item_once(tiny_corpus, tiny_root, tmp_path):
    from tests.helpers.cascade_testing import tiny_wav2vec2_ctc

    ctc = tiny_wav2vec2_ctc(tmp_path / "ctc")
    run_dir = tmp_path / "run"
    # torchrun starts both ranks at once, as a cluster (srun, torchrun) does
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "cascade.fit"]
    cmd += cascade_args(tiny_root, tmp_path, run_dir, ctc, "--trainer.devices=2", "--trainer.strategy=ddp")
    proc = run(cmd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # transcribed: every clip the run needed, once in all, the work shared by the ranks
    counts = {path.name: Counter(path.read_text().split()) for path in (tmp_path / "counts").glob("*.txt")}
    per_clip = sum(counts.values(), Counter())
    written = predictions(run_dir) + predictions(run_dir, "dev_predictions.jsonl")
    by_id = {item.id: item for item in tiny_corpus.items}
    needed = {clip_digest(load_audio(by_id[p["id"]].audio)) for p in written}
    assert set(per_clip) == needed
    assert set(per_clip.values()) == {1}, f"clips transcribed more than once: {per_clip.most_common(3)}"
    assert len(counts) == 2 and all(counts.values()), "one rank transcribed everything"
    # predicted: each test item once, and what one process predicts from the same checkpoint
    test_items = [i.id for i in Protocol("in_language", ["eng"]).select(tiny_corpus)["test"]]
    two = predictions(run_dir)
    assert sorted(p["id"] for p in two if p["split"] == "test") == sorted(test_items)
    two_metrics = json.loads((run_dir / "metrics.json").read_text())
    shutil.copytree(run_dir, tmp_path / "two")
    one = run(
        [sys.executable, "-m", "cascade.fit"]
        + cascade_args(tiny_root, tmp_path, run_dir, ctc, f"--ckpt_path={run_dir}/checkpoints/last.ckpt")
    )
    assert one.returncode == 0, one.stderr[-3000:]
    one_metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sorted(predictions(run_dir), key=lambda p: (p["split"], p["id"])) == sorted(
        two, key=lambda p: (p["split"], p["id"])
    )
    assert one_metrics["splits"] == two_metrics["splits"]
    recounted = sum((Counter(p.read_text().split()) for p in (tmp_path / "counts").glob("*.txt")), Counter())
    assert recounted == per_clip  # the single process read every transcript from the cache
