"""The E2E classifier: pooling, overfitting per encoder family, frozen cache, LoRA adapters."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speech.data import collate_waves
from speech.encoders.conv import ConvEncoder
from speech.model import SpeechClassifier
from speech.pooling import AttentiveStatsPooling, LayerWeightedSum, MeanMaxPooling, MeanPooling
from tests.helpers.audio_fixtures import synthetic_wave
from workbench.lora import LoraSettings

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tone_batch(n: int = 8, classes: int = 4, seconds: tuple[float, float] = (0.4, 0.8), seed: int = 0) -> dict:
    """Clips whose class is their pitch, of varied length (so padding and masks matter)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        wave = synthetic_wave(float(rng.uniform(*seconds)), i % classes, rng)
        rows.append((i, wave, i % classes, f"clip{seed}-{i}"))
    return collate_waves(rows)


@pytest.mark.parametrize("pool", [MeanPooling(), MeanMaxPooling(), AttentiveStatsPooling(dim=4)])
def test_pooling_ignores_padding(pool):
    x = torch.randn(2, 6, 4)
    lengths = torch.tensor([6, 3])
    padded = x.clone()
    padded[1, 3:] = 1e3  # garbage in the padding must not matter
    assert torch.allclose(pool(x, lengths), pool(padded, lengths), atol=1e-5)
    assert torch.allclose(pool(x, lengths)[1], pool(x[1:, :3], torch.tensor([3]))[0], atol=1e-5)
    assert pool(x, lengths).shape == (2, pool.out_dim(4))


def test_layer_weighted_sum_learns_a_layer():
    mix = LayerWeightedSum(3)
    layers = tuple(torch.full((1, 2, 2), float(i)) for i in range(3))
    assert mix(layers).mean().item() == pytest.approx(1.0)
    opt = torch.optim.SGD(mix.parameters(), lr=1.0)
    for _ in range(50):
        opt.zero_grad()
        (mix(layers).mean() - 2.0).pow(2).backward()
        opt.step()
    assert torch.softmax(mix.weights, 0).argmax().item() == 2


def overfit(model: SpeechClassifier, batch: dict, steps: int, lr: float = 3e-3) -> tuple[float, float]:
    """Train on one batch; return (final loss, train accuracy in eval mode)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch), batch["label"])
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(batch)
    loss = torch.nn.functional.cross_entropy(logits, batch["label"]).item()
    return loss, (logits.argmax(-1) == batch["label"]).float().mean().item()


# every transformers family HFEncoder loads (tiny random models of the real configs); hf-whisper is
# transformers' Whisper encoder, "whisper" below is openai-whisper's
HF_FAMILIES = ("wav2vec2", "wav2vec2-base", "hubert", "wavlm", "w2v_bert2", "hf-whisper")


def encoder_of(family: str, tmp_path):
    if family == "conv":
        return ConvEncoder(dim=32, num_blocks=2, dropout=0.0, specaugment=False)
    if family == "ecapa":
        from speech.encoders.ecapa import EcapaEncoder

        return EcapaEncoder(channels=(32, 32, 32, 32, 64), attention_channels=16, se_channels=16, specaugment=False)
    if family in HF_FAMILIES:
        from speech.encoders.hf import HFEncoder
        from tests.helpers.speech_stand_ins import stand_in

        return HFEncoder(stand_in(family.removeprefix("hf-")))
    if family == "whisper":
        from speech.encoders.whisper_openai import WhisperEncoder
        from tests.helpers.speech_stand_ins import stand_in

        return WhisperEncoder(stand_in("openai-whisper"))
    raise ValueError(family)


@pytest.mark.parametrize("family", ["conv", "ecapa", *HF_FAMILIES, "whisper"])
def test_overfit_each_encoder_family(family, tmp_path):
    torch.manual_seed(0)
    batch = tone_batch()
    model = SpeechClassifier(encoder_of(family, tmp_path), num_classes=4, dropout=0.0)
    with torch.no_grad():
        start = torch.nn.functional.cross_entropy(model.eval()(batch), batch["label"]).item()
    loss, acc = overfit(model, batch, steps=60)
    assert acc == 1.0 and loss < 0.2 and loss < start / 3, (family, start, loss, acc)


def test_layer_weighting_and_attentive_pooling_overfit():
    torch.manual_seed(0)
    batch = tone_batch()
    model = SpeechClassifier(
        ConvEncoder(dim=32, num_blocks=2, specaugment=False),
        num_classes=4,
        pooling=AttentiveStatsPooling(),
        layer_weighting=True,
        dropout=0.0,
    )
    before = model.mix.weights.detach().clone()
    loss, acc = overfit(model, batch, steps=60)
    assert acc == 1.0 and loss < 0.2
    assert not torch.equal(before, model.mix.weights.detach())


def test_frozen_cache_skips_the_encoder_and_survives_truncation(tmp_path):
    torch.manual_seed(0)
    batch = tone_batch(6)
    encoder = ConvEncoder(dim=16, num_blocks=2)
    model = SpeechClassifier(encoder, num_classes=4, mode="frozen", cache_dir=str(tmp_path), layer_weighting=True)
    model.eval()  # the head's dropout would make the comparisons below random
    assert not any(p.requires_grad for p in model.encoder.parameters())
    first = model(batch)
    cache = model.cache
    assert cache.encoder_calls == 6 and cache.hits == 0
    files = sorted(cache.folder.rglob("*.pt"))
    assert len(files) == 6
    stored = torch.load(files[0], weights_only=True)
    assert stored.shape[0] == encoder.num_layers  # every layer, for the weighted sum
    # later epochs read the cache: the encoder is not run, the outputs are the same (float16 storage)
    again = model(batch)
    assert cache.encoder_calls == 6 and cache.hits == 6
    assert torch.allclose(first, again, atol=1e-2)
    # a rerun (new model object, same encoder weights) reads the same cache
    rerun = SpeechClassifier(encoder, num_classes=4, mode="frozen", cache_dir=str(tmp_path), layer_weighting=True)
    rerun.eval()
    rerun.head.load_state_dict(model.head.state_dict())
    rerun.mix.load_state_dict(model.mix.state_dict())
    assert torch.allclose(rerun(batch), again, atol=1e-6) and rerun.cache.encoder_calls == 0
    # a truncated entry (a crash mid-write elsewhere) is never read as valid: it is recomputed
    files[0].write_bytes(files[0].read_bytes()[:100])
    rerun(batch)
    assert rerun.cache.encoder_calls == 1
    assert torch.load(files[0], weights_only=True).shape == stored.shape
    # other encoder weights -> another cache folder
    other = SpeechClassifier(ConvEncoder(dim=16, num_blocks=2), num_classes=4, mode="frozen", cache_dir=str(tmp_path))
    other(batch)
    assert other.cache.folder != cache.folder and other.cache.encoder_calls == 6


def test_frozen_mode_trains_the_head():
    torch.manual_seed(0)
    batch = tone_batch()
    model = SpeechClassifier(ConvEncoder(dim=32, num_blocks=2), num_classes=4, mode="frozen", cache_dir=None)
    frozen = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    loss, acc = overfit(model, batch, steps=80, lr=1e-2)
    assert acc == 1.0
    assert all(torch.equal(frozen[k], v) for k, v in model.encoder.state_dict().items())


@pytest.mark.parametrize("family", ["conv", "wav2vec2"])
def test_lora_trains_adapters_and_head_and_reloads(family, tmp_path):
    torch.manual_seed(0)
    batch = tone_batch()
    model = SpeechClassifier(
        encoder_of(family, tmp_path), num_classes=4, mode="lora", lora=LoraSettings(r=4), dropout=0.0
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and any(n.startswith("head.") for n in trainable)
    assert all("lora_" in n for n in trainable if n.startswith("encoder."))
    base = {n: p.detach().clone() for n, p in model.encoder.named_parameters() if "lora_" not in n}
    with torch.no_grad():
        start = torch.nn.functional.cross_entropy(model.eval()(batch), batch["label"]).item()
    loss, acc = overfit(model, batch, steps=40)
    assert acc == 1.0 and loss < start / 3, (family, start, loss, acc)  # adapters + head learn the batch
    assert all(torch.equal(base[n], p) for n, p in model.encoder.named_parameters() if "lora_" not in n)
    model.eval()
    with torch.no_grad():
        expected = model(batch)
    model.export_adapter(tmp_path / "adapter")
    # a fresh model over the same base weights, with another random head and adapters
    torch.manual_seed(123)
    fresh = SpeechClassifier(
        encoder_of(family, tmp_path), num_classes=4, mode="lora", lora=LoraSettings(r=4), dropout=0.0
    )
    if family == "conv":  # the from-scratch base is not on disk: copy it
        fresh.encoder.load_state_dict(model.encoder.state_dict())
        torch.nn.init.normal_(fresh.head[-1].weight)
    fresh.eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(batch), expected, atol=1e-4)
        fresh.load_adapter(tmp_path / "adapter")
        assert torch.allclose(fresh(batch), expected, atol=1e-5)


def test_a_lora_checkpoint_loads_and_one_written_before_model_lora_is_refused(tmp_path):
    """load_run (the demo, the report) rebuilds a LoRA run from its checkpoint and predicts the same;
    a checkpoint from before model.lora (flat lora_rank, lora_alpha, ...) is refused with one line."""
    from workbench.errors import ConfigError
    from workbench.predictor import load_run
    from workbench.record import ProtocolRecord, RunRecord
    from workbench.runs import RunDir

    torch.manual_seed(0)
    settings = LoraSettings(r=4, alpha=8)
    model = SpeechClassifier(
        ConvEncoder(dim=32, num_blocks=2), num_classes=2, mode="lora", lora=settings, cache_dir=None
    )
    torch.nn.init.normal_(model.head[-1].weight)
    for name, param in model.encoder.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: give the adapters something to change
            torch.nn.init.normal_(param, std=0.1)
    # the hyper-parameters as speech.fit (LightningCLI) writes them
    current = {k: v for k, v in model.hparams.items() if k not in ("lora", "optim")}
    current |= {"lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": None}, "optim": {"lr": 0.001}}
    current["_instantiator"] = "lightning.pytorch.cli.instantiate_module"
    older = {k: v for k, v in current.items() if k != "lora"}
    older |= {"lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0, "lora_targets": None}
    record = RunRecord("e2e", "speech", "e2e-lora", ProtocolRecord("in_language", ["eng"], ["eng"]), 0, ["a", "b"])
    encoder = {"class_path": "speech.encoders.conv.ConvEncoder", "init_args": {"dim": 32, "num_blocks": 2}}
    runs = {}
    for name, hparams in (("current", current), ("older", older)):
        run = RunDir(tmp_path / name)
        run.checkpoints.mkdir(parents=True)
        torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams}, run.best)
        run.config_path.write_text(json.dumps({"model": {"encoder": encoder}}))
        run.write(record, [])
        runs[name] = run.path
    predictor = load_run(runs["current"])
    assert predictor.model.mode == "lora" and predictor.model.hparams.lora == current["lora"]
    wave = synthetic_wave(0.6, 1, np.random.default_rng(0))
    model.eval()
    with torch.no_grad():
        batch = {"waves": torch.from_numpy(wave)[None], "lengths": torch.tensor([len(wave)]), "keys": [""]}
        expected = torch.softmax(model(batch), -1)[0]
    assert torch.allclose(torch.tensor(predictor.predict(wave)), expected, atol=1e-5)
    with pytest.raises(ConfigError, match=r"run '.*older': best\.ckpt does not fit SpeechClassifier.*lora_rank.*rerun"):
        load_run(runs["older"])
