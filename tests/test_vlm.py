"""The generative VLM (vision.vlm): class-name likelihoods, LoRA overfitting, the config through vision.fit.

A tiny random Qwen2-VL built from the real classes (tests/helpers/vlm_fixtures.py) stands in for
``Qwen/Qwen2-VL-2B-Instruct``; nothing is downloaded.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers.vision_fixtures import overfit
from tests.helpers.vlm_fixtures import save_tiny_qwen2_vl, tiny_fit_vlm_args
from vision.datamodule import ImageDataset
from vision.digits import DIGIT_WORDS, Digits
from vision.fit_vlm import main
from vision.vlm import Questions, SquareImage, VisionVLM
from workbench.lora import LoraSettings

torch.set_num_threads(1)
CONFIG = Path("configs/vision/qwen2_vl.yaml")
QUESTIONS = {"eng": "Which digit is this?", "rus": "Какая это цифра?"}
NAMES = {lang: list(DIGIT_WORDS[lang][:4]) for lang in QUESTIONS}  # 4 classes: 8 images, 2 of each
# the vision tower too: a random tiny one must learn to tell the images apart
EVERYWHERE = ["q_proj", "k_proj", "v_proj", "o_proj", "qkv", "proj", "fc1", "fc2"]


def shipped() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["model"]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory) -> str:
    model = shipped()
    texts = [w for words in DIGIT_WORDS.values() for w in words] + list(QUESTIONS.values())
    texts += [n for names in model["answers"].values() for n in names] + list(model["prompts"]["texts"].values())
    return str(save_tiny_qwen2_vl(tmp_path_factory.mktemp("qwen2vl") / "model", texts * 4))


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    corpus = Digits(root=str(tmp_path_factory.mktemp("digits")), languages=list(QUESTIONS), per_language=40).load()
    items = []
    for label in range(4):
        for language in QUESTIONS:
            items.append(next(i for i in corpus.where("train", [language]) if i.label == label))

    rows = [ImageDataset(items, SquareImage(56))[k] for k in range(len(items))]
    return {
        "image": torch.stack([r["image"] for r in rows]),
        "label": torch.tensor([r["label"] for r in rows]),
        "language": [r["language"] for r in rows],
    }


def make(stand_in: str, **kwargs) -> VisionVLM:
    torch.manual_seed(0)
    kwargs.setdefault("lora", LoraSettings(r=8, alpha=16, target_modules=EVERYWHERE))
    return VisionVLM(stand_in, image_size=56, prompts=Questions(QUESTIONS), class_names=NAMES, **kwargs)


def test_the_config_names_a_real_model_and_remote_code_is_opt_in():
    from transformers import Qwen2VLConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    model = shipped()
    assert model["model_id"] == "Qwen/Qwen2-VL-2B-Instruct" and model["trust_remote_code"] is False
    assert MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES[Qwen2VLConfig.model_type] == "Qwen2VLForConditionalGeneration"
    assert inspect.signature(VisionVLM).parameters["trust_remote_code"].default is False
    from workbench.data.cldr_text import CLASSES, DEFAULT_LANGUAGES

    assert set(model["answers"]) == set(model["prompts"]["texts"]) == set(DEFAULT_LANGUAGES)
    assert all(len(names) == len(CLASSES) for names in model["answers"].values())


def test_class_scores_are_the_answers_log_likelihoods(stand_in, batch):
    """Scores equal log-probabilities summed by hand from one full forward of prompt + answer."""
    module = make(stand_in, lora=None)
    with torch.no_grad():
        scores = module.logits(batch["image"][:1], ["rus"])
        answer = module.answer_ids("rus")[2]
        assert answer[-1] == module.tokenizer.convert_tokens_to_ids("<|im_end|>")  # the answer ends
        enc = module.processor(text=[module.chat("rus")], images=[batch["image"][0]], return_tensors="pt")
        assert "Какая это цифра?" in module.chat("rus") and "<|im_start|>assistant\n" in module.chat("rus")
        ids = torch.cat([enc.pop("input_ids"), torch.tensor([answer])], 1)
        enc["attention_mask"] = torch.ones_like(ids)
        enc["mm_token_type_ids"] = torch.cat(
            [enc["mm_token_type_ids"], torch.zeros(1, len(answer), dtype=torch.long)], 1
        )
        log_probs = module.vlm(input_ids=ids, **enc).logits[0].float().log_softmax(-1)
        start = ids.shape[1] - len(answer)
        by_hand = sum(float(log_probs[start - 1 + k, token]) for k, token in enumerate(answer))
    assert scores.shape == (1, 4) and abs(float(scores[0, 2]) - by_hand) < 1e-3


def test_lora_trains_only_adapters_and_the_answer_loss_goes_down(stand_in, batch):
    module = make(stand_in)
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    frozen = {n: p.detach().clone() for n, p in module.named_parameters() if "embed_tokens" in n}
    first, last = overfit(module, batch, steps=40, lr=1e-2)
    assert last < 0.5 * first, (first, last)
    assert all(torch.equal(p, frozen[n]) for n, p in module.named_parameters() if n in frozen)


@pytest.mark.long  # a 2-layer VLM overfitted for many steps: beyond the default run's budget
def test_after_overfitting_the_gold_class_name_ranks_first(stand_in, batch):
    module = make(stand_in, loss="classes")
    # lr 1e-2 (200 steps) left the class-1 images ranked as class 0 with transformers 5.25 (loss 12.1 ->
    # 0.28: two classes not told apart); 3e-3 separates all 8. Threads pinned so every machine sees one run
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first, last = overfit(module, batch, steps=200, lr=3e-3)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        ranked = module.logits(batch["image"], batch["language"]).argmax(-1)
    assert last < 0.2 * first and ranked.tolist() == batch["label"].tolist(), (first, last, ranked)


def test_the_config_runs_through_fit_vlm_and_load_run(stand_in, tiny_root, tmp_path):
    from PIL import Image

    from workbench.predictor import load_run

    run_dir = tmp_path / "run"
    metrics = main(tiny_fit_vlm_args([CONFIG], stand_in, tiny_root, run_dir, image_size=56)).metrics
    assert (
        metrics["record"]["path"] == "e2e"
        and metrics["record"]["modality"] == "image"
        and metrics["record"]["model"]["family"] == "vlm"
    )
    assert metrics["record"]["system"] == "vlm-lora" and metrics["sections"]["prompts"]["rus"][0] == "месяцы"
    assert set(metrics["splits"]["test"]["per_language"]) == {"eng"}  # in_language, eng
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert state and all("lora_" in key for key in state)  # the adapters, not the 2B base
    predictor = load_run(run_dir)
    image = Image.new("RGB", (40, 20), "white")
    for script in ("native", "romanized"):
        probs = predictor.predict(image, "rus", script)
        assert len(probs) == 6 and abs(sum(probs) - 1) < 1e-4
    assert predictor.prompts("rus", "romanized")[0] == "mesyatsy"


def test_a_model_id_that_cannot_load_is_named(tmp_path):
    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="model.model_id: cannot load"):
        VisionVLM(str(tmp_path / "missing"), prompts=Questions(QUESTIONS), class_names=NAMES)
