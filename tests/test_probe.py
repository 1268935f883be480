"""speech.probe: one linear probe per encoder layer, trained on the source language, tested on every language."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from speech import probe
from workbench.errors import ConfigError
from workbench.program import entry

TARGETS = ["deu", "tha"]  # two of the tiny corpus's other languages: a Latin and a non-Latin script


def layer_k_features(rng, labels: np.ndarray, layers: int, k: int, dim: int = 6) -> np.ndarray:
    """``(N, layers, dim)`` noise; only layer ``k`` adds a class-specific mean (the same in every language)."""
    features = rng.normal(size=(len(labels), layers, dim))
    centres = 4.0 * np.eye(labels.max() + 1, dim)
    features[:, k] += centres[labels]
    return features


def test_the_probe_finds_the_one_layer_that_separates_the_classes():
    rng = np.random.default_rng(0)
    labels = {name: np.arange(n) % 4 for name, n in (("train", 80), ("dev", 20), ("eng", 40), ("deu", 40))}
    splits = {name: probe.Split(layer_k_features(rng, y, layers=5, k=3), y) for name, y in labels.items()}
    frame = probe.probe_layers(splits["train"], splits["dev"], {"eng": splits["eng"], "deu": splits["deu"]}, "eng")
    assert len(frame) == 5 * 2 and set(frame["setting"]) == {"in_language", "zero_shot"}
    best = frame.loc[frame.groupby("language")["accuracy"].idxmax()]
    assert best["layer"].tolist() == [3, 3]
    by_layer = frame.pivot(index="layer", columns="language", values="accuracy")
    assert (by_layer.loc[3] >= 0.9).all()  # centres 5.7 sd apart: about 99 % in theory
    assert (by_layer.drop(index=3) <= 0.5).all().all()  # noise: near the chance of 0.25
    assert frame["chance"].eq(0.25).all() and frame["train_items"].eq(80).all()


@pytest.fixture(scope="module")
def tiny(tiny_corpus):
    return tiny_corpus


def test_zero_shot_probe_never_trains_on_a_target_languages_items(tiny):
    items = probe.probe_items(tiny, "eng", TARGETS)
    assert list(items) == ["train", "dev", "test:eng", "test:deu", "test:tha"]
    assert {item.language for item in items["train"] + items["dev"]} == {"eng"}
    tested = [item for name, chosen in items.items() if name.startswith("test:") for item in chosen]
    assert not {item.content_id for item in items["train"]} & {item.content_id for item in tested}
    for language in ["eng", *TARGETS]:
        assert {item.language for item in items[f"test:{language}"]} == {language}
        assert items[f"test:{language}"] == tiny.where("test", [language])
    assert len(items["train"]) == len(tiny.where("train", ["eng"]))


def test_unknown_languages_are_one_line_errors(tiny):
    with pytest.raises(ConfigError, match=r"language: unknown language\(s\) \['xxx'\]"):
        probe.probe_items(tiny, "xxx")
    with pytest.raises(ConfigError, match=r"targets: unknown language\(s\) \['zzz'\]"):
        probe.probe_items(tiny, "eng", ["deu", "zzz"])


def encoder_of(family: str):
    """A tiny encoder of ``family``: the from-scratch ones built here, the pretrained families' stand-ins."""
    from speech.encoders.conv import ConvEncoder
    from speech.encoders.ecapa import EcapaEncoder
    from speech.encoders.hf import HFEncoder
    from speech.encoders.whisper_openai import WhisperEncoder
    from tests.helpers.speech_stand_ins import stand_in

    torch.manual_seed(0)
    if family == "conv":
        return ConvEncoder(dim=32, num_blocks=2)
    if family == "ecapa":
        return EcapaEncoder(channels=(32, 32, 32, 32, 64), attention_channels=16, se_channels=16)
    if family == "openai-whisper":
        return WhisperEncoder(stand_in("openai-whisper"))
    return HFEncoder(stand_in(family))


# every encoder family the project supports: from scratch, transformers' (wav2vec2 covers XLS-R and MMS,
# w2v_bert2 is Wav2Vec2BertModel, whisper WhisperModel's encoder) and openai-whisper's
@pytest.mark.parametrize("family", ["conv", "ecapa", "wav2vec2", "hubert", "w2v_bert2", "whisper", "openai-whisper"])
def test_every_encoder_family_is_probed_layer_by_layer(family, tiny, tmp_path):
    torch.set_num_threads(1)
    encoder = encoder_of(family)
    frame = probe.probe(encoder, tiny, "eng", tmp_path, TARGETS, batch_size=8)
    layers = 1 if family == "ecapa" else encoder.num_layers  # ECAPA's blocks differ in width: the last only
    assert frame["layer"].nunique() == layers and len(frame) == layers * 3
    assert frame["accuracy"].between(0, 1).all() and frame["items"].eq(12).all()
    written = pd.read_csv(tmp_path / probe.CSV)
    assert written[["layer", "language", "setting"]].equals(frame[["layer", "language", "setting"]])
    assert (tmp_path / probe.PLOT).read_bytes().startswith(b"\x89PNG")
    features = [np.load(path)["features"] for path in sorted((tmp_path / probe.FEATURES).glob("*.npz"))]
    assert len(features) == 5 and all(f.shape[1:] == (layers, encoder.dim) for f in features)
    if layers > 1:  # each layer's own frames, not one layer repeated
        assert not np.allclose(features[0][:, 0], features[0][:, -1])
    assert all(not p.requires_grad for p in encoder.parameters())  # frozen


@pytest.fixture(scope="module")
def weighted_run(tiny_root, tmp_path_factory):
    """A tiny speech.fit run (conv encoder) that learns weighted-layer pooling."""
    from speech.fit import main
    from tests.helpers.speech_runs import tiny_args

    run_dir = tmp_path_factory.mktemp("probe-run") / "run"
    main(
        tiny_args(tiny_root, run_dir, "--model.layer_weighting=true", "--trainer.max_steps=6", "--trainer.min_steps=6")
    )
    return run_dir


def test_the_documented_command_probes_a_run_with_its_layer_weights(weighted_run, tiny_root):
    command = [sys.executable, "-m", "speech.probe", "--run_dir", str(weighted_run), "--threads", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"probe written to {weighted_run / 'probe' / probe.CSV}" in done.stdout
    frame = pd.read_csv(weighted_run / "probe" / probe.CSV)
    assert list(dict.fromkeys(frame["language"])) == ["eng", "deu", "rus", "tha"]  # the run's source, then all
    assert frame["layer"].nunique() == 3 and (frame["train_items"] == 24).all()
    encoder, weights, _ = probe.run_encoder(weighted_run)
    state = torch.load(weighted_run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert np.allclose(weights, torch.softmax(state["mix.weights"], 0).numpy())
    assert not np.allclose(weights, 1 / 3)  # learned, not the uniform start


def test_bad_run_dir_and_language_are_one_line_errors(weighted_run, tmp_path, capsys):
    for argv, message in (
        (["--run_dir", str(tmp_path / "nothing")], "is not a finished run directory"),
        (["--run_dir", str(weighted_run), "--language", "xxx", "--out", str(tmp_path)], "unknown language"),
        (["--run_dir", str(weighted_run), "--encoder", "speech.encoders.conv.ConvEncoder"], "exactly one of"),
    ):
        with pytest.raises(SystemExit) as exit_:
            entry(probe.main, argv)
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and message in err and "\n" not in err, err


def test_stored_features_are_keyed_by_the_audio_not_by_ids_and_paths(tiny, tmp_path):
    """Two corpora whose items share ids, paths and labels but not audio never share stored features."""
    from dataclasses import replace
    from shutil import copyfile

    from speech.encoders.conv import ConvEncoder

    torch.manual_seed(0)
    encoder = ConvEncoder(dim=16, num_blocks=1).requires_grad_(False)
    originals = tiny.where("test", ["eng"])[:4]
    items = [replace(item, audio=str(tmp_path / f"{item.id}.flac")) for item in originals]
    for original, item in zip(originals, items, strict=True):
        copyfile(original.audio, item.audio)
    store = tmp_path / "features"
    first = probe.encode(encoder, items, batch_size=2, store=store)
    assert np.array_equal(probe.encode(encoder, items, batch_size=2, store=store).features, first.features)
    assert len(list(store.glob("*.npz"))) == 1  # the same audio again: read back, not encoded again
    for index, item in enumerate(items):  # other clips under the same paths: a rebuilt or other corpus
        copyfile(originals[(index + 1) % len(items)].audio, item.audio)
    second = probe.encode(encoder, items, batch_size=2, store=store)
    assert np.allclose(second.features, probe.encode(encoder, items, batch_size=2).features)
    assert not np.allclose(second.features, first.features)
    assert len(list(store.glob("*.npz"))) == 2
