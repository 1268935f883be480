"""The speech-LLM E2E (speech.speech_llm): class names scored by answer likelihood, zero-shot and LoRA.

A tiny random Qwen2-Audio built from the real classes (tests/speech_llm_fixtures.py) stands in for
``Qwen/Qwen2-Audio-7B-Instruct``; it runs through the speech program and its run record (and a sweep:
tests/test_systems_sweep.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from speech.speech_llm import SpeechLLM, main
from tests.helpers.speech_llm_fixtures import save_tiny_qwen2_audio
from workbench.errors import ConfigError
from workbench.lora import LoraSettings

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "speech_llm" / "qwen2_audio.yaml"
NAMES = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["model"]["answers"]
QUESTION = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["model"]["question"]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> str:
    return str(save_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio"), [*NAMES, QUESTION]))


@pytest.fixture(scope="module")
def batch() -> dict:
    generator = torch.Generator().manual_seed(0)
    waves = torch.randn(3, 12000, generator=generator) * torch.tensor([[0.1], [0.5], [1.0]])
    return {"waves": waves, "lengths": torch.tensor([12000, 9000, 6000]), "label": torch.tensor([0, 3, 5]),
            "index": torch.arange(3)}  # fmt: skip


def test_the_config_names_the_real_model_and_remote_code_is_opt_in():
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert config["model"]["model_id"] == "Qwen/Qwen2-Audio-7B-Instruct"
    assert config["model"]["trust_remote_code"] is False and config["model"]["dtype"] == "bfloat16"
    assert len(NAMES) == 6  # the embedded set's six classes, in label order


def test_class_scores_are_the_answers_log_likelihoods(stand_in, batch):
    """Batched B x C scoring equals each clip + class name scored alone by a plain forward pass."""
    module = SpeechLLM(stand_in, answers=NAMES, question=QUESTION)
    with torch.no_grad():
        scores = module.logits(batch)
        one = {k: v[1:2] for k, v in batch.items()}
        enc = module.encode(one)
        for label in (0, 4):
            answer = torch.tensor([module.answer_ids[label]])
            ids = torch.cat([enc["input_ids"], answer], 1)
            mask = torch.ones_like(ids)
            logits = module.llm(input_ids=ids, attention_mask=mask, input_features=enc["input_features"],
                                feature_attention_mask=enc["feature_attention_mask"]).logits  # fmt: skip
            steps = logits[0, -answer.shape[1] - 1 : -1].log_softmax(-1)
            by_hand = steps.gather(-1, answer[0][:, None]).sum()
            assert scores[1, label].item() == pytest.approx(by_hand.item(), abs=1e-3)
    assert scores.shape == (3, 6) and not torch.allclose(scores[0], scores[2])  # the audio changes the scores


def test_each_clip_is_heard_once_for_all_class_names(stand_in, batch):
    """The audio tower and the prompt run once a clip, not once a class name (their keys and values are shared)."""
    module = SpeechLLM(stand_in, answers=NAMES, question=QUESTION)
    heard = []
    hook = module.llm.model.audio_tower.register_forward_hook(lambda _m, args, _o: heard.append(args[0].shape[0]))
    with torch.no_grad():
        module.logits(batch)
    hook.remove()
    assert heard == [len(batch["lengths"])]


def test_lora_trains_only_adapters_and_the_gold_answers_loss_goes_down(stand_in, batch):
    module = SpeechLLM(stand_in, answers=NAMES, question=QUESTION, lora=LoraSettings(r=4, alpha=8))
    trained = [n for n, p in module.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n for n in trained)
    frozen = {n: p.detach().clone() for n, p in module.named_parameters() if "lm_head" in n}
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=0.02)
    two = {k: v[:2] for k, v in batch.items()}
    rows = torch.arange(2)
    with torch.no_grad():  # the gold answers' log-likelihood as the scorer reads it, not the loss' own value
        first = module.logits(two)[rows, two["label"]].sum().item()
    for _ in range(12):
        optimizer.zero_grad()
        module.gold_loss(two).backward()
        optimizer.step()
    with torch.no_grad():
        last = module.logits(two)[rows, two["label"]].sum().item()
    assert last > 0.7 * first, (first, last)  # log-likelihoods are negative: 30 % closer to 0
    assert all(torch.equal(p, frozen[n]) for n, p in module.named_parameters() if n in frozen)


def tiny_args(stand_in: str, root, run_dir) -> list[str]:
    return ["-c", str(CONFIG), "--model.model_id", stand_in, "--model.dtype", "float32",
            f"--data.source.init_args.root={root}", "--data.source.init_args.tiny=true",
            "--data.num_workers=0", "--trainer.accelerator=cpu", "--trainer.precision=32-true",
            "--trainer.max_steps=1", "--trainer.limit_val_batches=1", "--trainer.enable_model_summary=false",
            "--trainer.enable_progress_bar=false", f"--run_dir={run_dir}"]  # fmt: skip


def test_lora_through_the_speech_program(stand_in, tiny_corpus, tiny_root, tmp_path):
    lora = main(tiny_args(stand_in, tiny_root, tmp_path / "lora")).metrics
    record = lora["record"]
    assert record["path"] == "e2e" and record["modality"] == "speech" and record["system"] == "speechllm-lora"
    assert record["model"] == {"family": "speech-llm", "name": stand_in, "loss": "lm", "mode": "lora"}
    assert lora["sections"]["answers"] == NAMES and set(lora["splits"]["test"]["per_language"]) == {"eng"}
    rows = [json.loads(line) for line in (tmp_path / "lora" / "predictions.jsonl").read_text().splitlines()]
    assert rows and all(len(row["probs"]) == 6 and abs(sum(row["probs"]) - 1) < 1e-4 for row in rows)
    state = torch.load(tmp_path / "lora" / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert state and all("lora_" in key for key in state)  # the adapters, not the 7B base


def test_a_model_id_that_cannot_load_is_named(tmp_path):
    with pytest.raises(ConfigError, match="model.model_id: cannot load"):
        SpeechLLM(str(tmp_path / "missing"), answers=NAMES)
    with pytest.raises(ConfigError, match="6 names for 5 classes"):
        SpeechLLM(str(tmp_path / "missing"), answers=NAMES, num_classes=5)
