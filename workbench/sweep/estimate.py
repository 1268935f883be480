"""GPU hours and memory of a sweep, estimated before it runs (``python -m workbench.sweep ... --dry-run``).

Every figure is derived from a stated cost per model and per data set, never measured here:

- training: ``6 x parameters x frames`` FLOPs for full fine-tuning (``4 x`` with LoRA, whose
  frozen weights get no gradient; ``2 x`` for a frozen encoder), ``2 x parameters x frames``
  for each evaluation pass, at :data:`TRAIN_MFU` of an H100's dense bf16 peak
  (:data:`H100_BF16_FLOPS`). A text classifier counts its non-embedding parameters and
  :data:`TOKENS_PER_ITEM` tokens an item.
- recognition: each recognizer transcribes the evaluated clips once for the whole sweep (the
  cascade caches transcripts by audio content and recognizer), ``2 x parameters x frames``;
  an autoregressive decoder (Whisper) runs at :data:`DECODE_MFU` (memory-bound), with
  :data:`DECODED_TOKENS_PER_CLIP` tokens a clip and its encoder on 30-s windows.
- a fixed :data:`STARTUP_HOURS` a point (loading the model and the prepared corpus).
- memory of one E2E training step: ``16 bytes x trained parameters`` (bf16-mixed AdamW: fp32
  weights, gradients and two moments) plus ``ACTIVATION_BYTES x width x layers`` bytes for
  each frame of a batch (``data.max_batch_seconds`` of audio; no attention matrix: SDPA).

Sizes come from ``configs/models.yaml`` (:func:`model_cost`), the one table of the models the
configs name. A system whose model is not in it is named, not guessed.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench.model_table import load_table, published_count
from workbench.sweep.spec import Point, Sweep

H100_BF16_FLOPS = 989e12  # dense bf16 peak of an H100 SXM (NVIDIA's datasheet), FLOP/s
TRAIN_MFU = 0.30  # fraction of the peak a fine-tuning step reaches (padding, data loading): assumed
DECODE_MFU = 0.05  # autoregressive decoding is bound by memory bandwidth, not FLOPs: assumed
STARTUP_HOURS = 0.05  # a point's model load, corpus read and first-batch warm-up (3 min)
ACTIVATION_BYTES = 34  # bytes of saved activations per frame, per layer, per unit of width (bf16)
TOKENS_PER_ITEM = 64  # subword tokens of one verse (max_length 128)
DECODED_TOKENS_PER_CLIP = 150  # Whisper's byte-level tokens for one verse in a low-resource script
WINDOW_SECONDS = 30.0  # Whisper's encoder always sees a 30-s window


@dataclass(frozen=True)
class ModelCost:
    """One pretrained model: ``params`` it computes with (text: non-embedding), ``layers`` x ``width``,
    ``frames`` per second of audio (0 for text), ``decoder`` parameters run per generated token."""

    params: float
    layers: int
    width: int
    frames: float = 50.0
    decoder: float = 0.0


def layer_params(width: int, ffn: int) -> float:
    """Weights of one transformer layer: the attention projections (4 d^2) and the feed-forward block
    (2 d ffn); norms and biases are below 1 %."""
    return 4 * width * width + 2 * width * ffn


@functools.cache  # a grid asks for the same few models thousands of times
def model_cost(name: str) -> ModelCost | None:
    """The cost of ``name`` derived from its row of ``configs/models.yaml`` (None when it has none).

    Speech encoders compute with every published parameter at 50 frames a second. A text
    classifier's embedding table is a lookup, so it counts only its layers. Whisper trained as an
    encoder (``step: train``) counts its encoder's layers; as a recognizer the encoder runs on its
    window and the rest of the published count (decoder and its embeddings) once per token.
    """
    entry = load_table().get(name)
    if entry is None:
        return None
    config, published = entry["config"], published_count(entry["params"])
    if entry["builder"] == "openai-whisper":
        width, layers = config["n_audio_state"], config["n_audio_layer"]
        encoder = layers * layer_params(width, 4 * width)
        if entry["step"] == "recognize":
            return ModelCost(encoder, layers, width, decoder=published - encoder)
        return ModelCost(encoder, layers, width)
    if "num_mel_bins" in config:  # transformers' Whisper: speech.fit keeps the encoder
        width, layers = config["d_model"], config["encoder_layers"]
        return ModelCost(layers * layer_params(width, config["encoder_ffn_dim"]), layers, width)
    if "hidden_size" not in config:  # a composite model (text + audio towers): no cost model here
        return None
    width, layers = config["hidden_size"], config["num_hidden_layers"]
    if "max_position_embeddings" in config and "type_vocab_size" in config:  # a BERT-family text encoder
        return ModelCost(layers * layer_params(width, config["intermediate_size"]), layers, width, frames=0)
    return ModelCost(published, layers, width)


@dataclass(frozen=True)
class Corpus:
    """Items a language has per split and the mean clip length, for one data source."""

    train: int
    dev: int
    test: int
    clip_seconds: float


#: SpeechTaxi reads Taxi1500's verses (860 train / 106 dev / 111 test a language); ~80 h over
#: 28 languages x 1077 verses gives ~9.5 s a verse.
CORPORA = {"speech.sources.SpeechTaxi": Corpus(860, 106, 111, 80 * 3600 / (28 * 1077))}
FITTED_MULTIPLIER = {"full": 6, "lora": 4, "frozen": 2}


def resolved(point: Point) -> dict:
    """The point's configs merged key by key (later files win), then its ``--a.b=value`` arguments."""
    merged: dict = {}
    for config in point.configs:
        merge(merged, copy.deepcopy(read_config(config)))
    for key, value in point.args:
        tree = merged
        *parents, leaf = key.lstrip("-").split(".")
        for part in parents:
            if not isinstance(tree.get(part), dict):
                tree[part] = {}
            tree = tree[part]
        tree[leaf] = yaml.safe_load(value)
    return merged


@functools.cache
def read_config(path: str) -> dict:
    """A config file, read once per process (a grid names the same few files thousands of times)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def merge(into: dict, new: dict) -> dict:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def get(tree: dict, dotted: str, default=None):
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return default
        tree = tree[part]
    return tree


@dataclass
class PointCost:
    system: str
    hours: float = 0.0
    memory_gb: float = 0.0
    recognizer: str | None = None  # its id, whose one-off transcription is counted per sweep
    missing: str | None = None  # why no estimate


def languages_of(point: Point, config: dict) -> tuple[list[str], list[str]]:
    """(trained, evaluated) languages of the point's protocol."""
    every = list(get(config, "data.source.init_args.languages") or [])
    sources = list(point.sources or [])
    if point.protocol == "in_language":
        return sources, sources
    if point.protocol == "zero_shot":
        return sources, every
    return every, every


def flops_hours(flops: float, mfu: float) -> float:
    return flops / (mfu * H100_BF16_FLOPS) / 3600


def point_cost(point: Point) -> PointCost:
    """GPU hours of one grid point on one H100 (recognition apart) and the E2E step's memory."""
    config = resolved(point)
    cost = PointCost(point.system)
    corpus = CORPORA.get(get(config, "data.source.class_path", ""))
    if corpus is None:
        cost.missing = f"data source '{get(config, 'data.source.class_path')}' has no corpus size"
        return cost
    trained, evaluated = languages_of(point, config)
    epochs = int(get(config, "trainer.max_epochs") or 1)
    train_items, eval_items = corpus.train * len(trained) * epochs, (corpus.dev + corpus.test) * len(evaluated)
    dev_items = corpus.dev * len(trained) * epochs
    if point.program == "speech.fit":
        encoder = get(config, "model.encoder.init_args.name_or_path") or get(config, "model.encoder.init_args.name")
        model = model_cost(str(encoder))
        if model is None:
            cost.missing = f"encoder '{encoder}' has no cost"
            return cost
        frames = corpus.clip_seconds * model.frames
        trained_share = FITTED_MULTIPLIER.get(str(get(config, "model.mode", "full")), 6)
        flops = model.params * frames * (trained_share * train_items + 2 * (dev_items + eval_items))
        cost.hours = flops_hours(flops, TRAIN_MFU) + STARTUP_HOURS
        batch_frames = float(get(config, "data.max_batch_seconds") or 160) * model.frames
        cost.memory_gb = (16 * model.params + ACTIVATION_BYTES * model.width * model.layers * batch_frames) / 1e9
    elif point.program == "cascade.fit":
        classifier = str(get(config, "model.model.init_args.model"))
        recognizer = str(get(config, "data.recognizer.init_args.model"))
        for name in (classifier, recognizer):
            if model_cost(name) is None:
                cost.missing = f"model '{name}' has no cost"
                return cost
        flops = model_cost(classifier).params * TOKENS_PER_ITEM * (6 * train_items + 2 * (dev_items + eval_items))
        cost.hours, cost.recognizer = flops_hours(flops, TRAIN_MFU) + STARTUP_HOURS, recognizer
    else:
        cost.missing = f"program {point.program} has no cost model"
    return cost


def recognition_hours(recognizer: str, corpus: Corpus, languages: int) -> float:
    """Transcribing every dev and test clip of ``languages`` once with ``recognizer``."""
    model, clips = model_cost(recognizer), (corpus.dev + corpus.test) * languages
    if model.decoder:  # Whisper: the encoder on a 30-s window, then token by token
        encode = 2 * model.params * WINDOW_SECONDS * model.frames * clips
        decode = 2 * model.decoder * DECODED_TOKENS_PER_CLIP * clips
        return flops_hours(encode, TRAIN_MFU) + flops_hours(decode, DECODE_MFU)
    return flops_hours(2 * model.params * corpus.clip_seconds * model.frames * clips, TRAIN_MFU)


def summary(sweep: Sweep) -> list[str]:
    """The dry run's closing lines: points, GPU hours per system and in all, memory, and what has no cost."""
    costs = [point_cost(point) for point in sweep.points]
    lines = [f"{len(sweep.points)} points ({len(sweep.setup)} setup steps)"]
    by_system: dict[str, list[PointCost]] = {}
    for cost in costs:
        by_system.setdefault(cost.system, []).append(cost)
    missing = {c.system: c.missing for c in costs if c.missing}
    for system, group in by_system.items():
        if system in missing:
            lines.append(
                f"  {system}: {len(group)} points, no GPU-hour estimate: {missing[system]} (sweep/estimate.py)"
            )
        else:
            memory = max(c.memory_gb for c in group)
            lines.append(
                f"  {system}: {len(group)} points, {sum(c.hours for c in group):.1f} GPU h"
                + (f", ~{memory:.0f} GB GPU memory a step" if memory else "")
            )
    total = sum(c.hours for c in costs)
    points = {c.recognizer: p for c, p in zip(costs, sweep.points, strict=True) if c.recognizer}
    for recognizer, point in points.items():
        config = resolved(point)
        corpus = CORPORA[get(config, "data.source.class_path")]
        hours = recognition_hours(recognizer, corpus, len(get(config, "data.source.init_args.languages") or []))
        total += hours
        lines.append(f"  recognition by {recognizer} (once, cached for every cascade point): {hours:.2f} GPU h")
    flag = f" (without {len(missing)} systems that have no cost)" if missing else ""
    lines.append(f"estimated GPU hours: {total:.0f} on H100s at {TRAIN_MFU:.0%} MFU{flag}")
    return lines
