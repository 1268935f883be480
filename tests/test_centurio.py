"""Centurio as a generative VLM (configs/vision/centurio.yaml over qwen2_vl.yaml): remote code only when opted in,
class scores read after the expanded image placeholder, LoRA learns a few images, the config runs through
vision.fit_vlm and load_run.

A local replica in the hub layout (tests/helpers/centurio_replica.py: auto_map, our own tiny remote code, tokenizer
files with a chat template) stands in for ``WueNLP/centurio_qwen``; nothing is downloaded.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers.centurio_replica import IMAGE_SIZE, IMAGE_TOKEN, PATCH, save_centurio_replica
from tests.helpers.vision_fixtures import overfit
from tests.helpers.vlm_fixtures import tiny_fit_vlm_args
from vision.datamodule import ImageDataset
from vision.digits import DIGIT_WORDS, Digits
from vision.fit_vlm import main
from vision.vlm import Questions, SquareImage, VisionVLM
from workbench.errors import ConfigError
from workbench.lora import LoraSettings

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: tiny models
BASE, OVERLAY = Path("configs/vision/qwen2_vl.yaml"), Path("configs/vision/centurio.yaml")
QUESTIONS = {"eng": "Which digit is this?", "rus": "Какая это цифра?"}
NAMES = {lang: list(DIGIT_WORDS[lang][:4]) for lang in QUESTIONS}  # 4 classes
# LoRA on the LM's attention, the vision tower and the adapter: a random tower must learn to tell images apart
EVERYWHERE = ["q_proj", "k_proj", "v_proj", "o_proj", "out_proj", "fc1", "fc2", "linear_1", "linear_2"]


def overlay() -> dict:
    return yaml.safe_load(OVERLAY.read_text(encoding="utf-8"))["model"]


@pytest.fixture(scope="module")
def replica(tmp_path_factory) -> str:
    base = yaml.safe_load(BASE.read_text(encoding="utf-8"))["model"]
    texts = [w for words in DIGIT_WORDS.values() for w in words] + list(QUESTIONS.values())
    texts += [n for names in base["answers"].values() for n in names] + list(base["prompts"]["texts"].values())
    return str(save_centurio_replica(tmp_path_factory.mktemp("centurio") / "centurio_qwen", texts * 4))


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    """4 English digit images, one of each class."""
    corpus = Digits(root=str(tmp_path_factory.mktemp("digits")), languages=["eng"], per_language=40).load()
    items = [next(i for i in corpus.where("train", ["eng"]) if i.label == label) for label in range(4)]
    rows = [ImageDataset(items, SquareImage(IMAGE_SIZE))[k] for k in range(len(items))]
    return {
        "image": torch.stack([r["image"] for r in rows]),
        "label": torch.tensor([r["label"] for r in rows]),
        "language": [r["language"] for r in rows],
    }


def make(folder: str, **kwargs) -> VisionVLM:
    torch.manual_seed(0)
    settings = {k: overlay()[k] for k in ("trust_remote_code", "auto_class", "image_placeholder")} | kwargs
    return VisionVLM(folder, image_size=IMAGE_SIZE, prompts=Questions(QUESTIONS), class_names=NAMES, **settings)


def test_the_config_names_centurio_and_opts_in_to_its_remote_code():
    model = overlay()
    assert model["model_id"] == "WueNLP/centurio_qwen" and model["trust_remote_code"] is True
    assert model["auto_class"] == "causal-lm" and model["image_placeholder"] == "<image_placeholder>"
    assert "prompts" not in model and "answers" not in model  # the base's questions and class names, once


def test_without_the_opt_in_the_replica_is_refused_and_its_code_never_imported(replica, tmp_path):
    folder = shutil.copytree(replica, tmp_path / "refused_replica")  # a folder no other test has loaded
    with pytest.raises(ConfigError, match=r"^model.model_id: cannot load .*custom code.*model.trust_remote_code: true"):
        make(str(folder), trust_remote_code=False)
    assert not [name for name in sys.modules if "refused_replica" in name]


def test_class_scores_are_the_answers_log_likelihoods_after_the_expanded_placeholder(replica, batch):
    """The scorer reads the answer at the end of the sequence: the placeholder's expansion into the image's tokens,
    earlier in the prompt, leaves the scores equal to a full forward of prompt + answer summed by hand."""
    module = make(replica)
    assert type(module.vlm).__module__.startswith("transformers_modules.")  # the folder's own code ran
    chat = module.chat("rus")
    assert "<|im_start|>user\n<image_placeholder>\nКакая это цифра?<|im_end|>" in chat  # a plain string message
    with torch.no_grad():
        scores = module.logits(batch["image"][:1], ["rus"])
        enc = module.processor(text=[chat], images=[batch["image"][0]], return_tensors="pt")
        image_token = module.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        assert int((enc["input_ids"] == image_token).sum()) == (IMAGE_SIZE // PATCH) ** 2
        answer = module.answer_ids("rus")[2]
        ids = torch.cat([enc["input_ids"], torch.tensor([answer])], 1)
        log_probs = module.vlm(input_ids=ids, pixel_values=enc["pixel_values"]).logits[0].float().log_softmax(-1)
        start = ids.shape[1] - len(answer)
        by_hand = sum(float(log_probs[start - 1 + k, token]) for k, token in enumerate(answer))
        other_image = module.logits(batch["image"][1:2], ["rus"])
    assert scores.shape == (1, 4) and abs(float(scores[0, 2]) - by_hand) < 1e-3
    assert not torch.allclose(scores, other_image)  # the image's features reach the answer


def test_lora_learns_a_few_images(replica, batch):
    module = make(replica, loss="classes", lora=LoraSettings(r=8, alpha=16, target_modules=EVERYWHERE))
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    first, last = overfit(module, batch, steps=60, lr=3e-3)
    with torch.no_grad():
        ranked = module.logits(batch["image"], batch["language"]).argmax(-1)
    assert last < 0.2 * first and ranked.tolist() == batch["label"].tolist(), (first, last, ranked)


def test_the_config_runs_through_fit_vlm_and_load_run(replica, tiny_root, tmp_path):
    from PIL import Image

    from workbench.predictor import load_run

    run_dir = tmp_path / "run"
    metrics = main(tiny_fit_vlm_args([BASE, OVERLAY], replica, tiny_root, run_dir, IMAGE_SIZE)).metrics
    record = metrics["record"]
    assert record["model"]["family"] == "vlm" and record["model"]["name"] == replica  # the run names its model
    assert record["path"] == "e2e" and record["modality"] == "image" and record["system"] == "vlm-lora"
    assert metrics["sections"]["prompts"]["rus"][0] == "месяцы"  # the base's class names
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert state and all("lora_" in key for key in state)
    predictor = load_run(run_dir)  # rebuilt with the run's own opt-in and placeholder
    probs = predictor.predict(Image.new("RGB", (40, 20), "white"), "rus")
    assert len(probs) == 6 and abs(sum(probs) - 1) < 1e-4
