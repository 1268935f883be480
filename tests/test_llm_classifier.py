"""The LLM text classifier (cascade/llm.py) on tiny random Qwen2 / Llama stand-ins built from their config classes:
class scores are answer likelihoods (the shared scorer, batched = one at a time), LoRA trains the adapters only and
memorises a few texts, remote code is opt-in. The shipped configs (zero-shot and LoRA) run through cascade.fit in
tests/test_systems_sweep.py's sweep."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from cascade.classifier import TextClassifier
from cascade.data import TextDataset, collate_texts
from cascade.llm import LLMClassifier
from tests.helpers.text_systems_testing import tiny_causal_lm
from workbench.answer_scoring import answer_log_probs, class_scores
from workbench.errors import ConfigError
from workbench.io import read_json
from workbench.items import Item
from workbench.lora import LoraSettings
from workbench.optim import Optim

TEXTS = ["march, july, may", "monday, friday", "april, june", "sunday, monday", "май, июль", "понедельник"]
LABELS = [0, 1, 0, 1, 0, 1]
NAMES = ["months", "weekdays"]
PAIRS = list(zip(TEXTS, LABELS, strict=True))


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lms")
    texts = TEXTS + NAMES + ["Classify the following text into one of these topics: Text: Topic:"]
    return {family: tiny_causal_lm(folder / family, texts * 4, family) for family in ("qwen2", "llama")}


def reference_score(model: LLMClassifier, text: str, answer: list[int]) -> float:
    """The answer's log-likelihood after the prompt, from one unpadded forward pass of the whole sequence."""
    prompt = model.tokenizer(model.chat(text), add_special_tokens=False).input_ids
    ids = torch.tensor([prompt + answer])
    log_probs = model.lm(input_ids=ids).logits[0, :-1].log_softmax(-1)
    return float(sum(log_probs[len(prompt) - 1 + k, token] for k, token in enumerate(answer)))


@pytest.mark.parametrize("family", ["qwen2", "llama"])
def test_class_scores_are_the_answers_likelihoods(family, lms):
    model = LLMClassifier(str(lms[family]))
    model.build(2, NAMES)
    with torch.no_grad():
        batched = model(TEXTS)  # prompts of several lengths: left padding must not change a score
        expected = [[reference_score(model, text, ids) for ids in model.answer_ids] for text in TEXTS]
    assert torch.allclose(batched, torch.tensor(expected), atol=1e-4)
    assert all(ids[-1] == model.tokenizer.eos_token_id for ids in model.answer_ids)  # the end-of-answer token
    assert ("<|im_start|>assistant" in model.chat("x")) == (family == "qwen2")  # the chat template when there is one


def test_lora_trains_the_adapters_only_and_memorises(lms):
    torch.manual_seed(0)
    lm = LLMClassifier(str(lms["qwen2"]), lora=LoraSettings(r=4, alpha=8))
    model = TextClassifier(lm, num_classes=2, optim=Optim(lr=3e-2), class_names=NAMES)
    base = {n: p.detach().clone() for n, p in lm.lm.named_parameters() if "lora_" not in n}
    items = [Item(f"i{k}", f"c{k}", "eng", label, "train", text=text) for k, (text, label) in enumerate(PAIRS)]
    loader = DataLoader(TextDataset(items, TEXTS), batch_size=6, shuffle=True, collate_fn=collate_texts)
    trainer = L.Trainer(
        max_epochs=30, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    before = model.predict_texts(TEXTS).argmax(-1).tolist()
    trainer.fit(model, train_dataloaders=loader)
    assert model.predict_texts(TEXTS).argmax(-1).tolist() == LABELS != before
    assert all(torch.equal(p, base[n]) for n, p in lm.lm.named_parameters() if n in base)  # the base is frozen
    assert any("lora_" in n for n, p in lm.lm.named_parameters() if p.requires_grad)


def test_each_prompt_is_read_once_and_trains_as_if_repeated_for_each_class(lms):
    """The prompt's keys and values are shared by the class names: the model reads each prompt's tokens once,
    and the scores and the adapters' gradients are those of every prompt repeated for each answer."""
    torch.manual_seed(0)
    model = LLMClassifier(str(lms["qwen2"]), lora=LoraSettings(r=4, alpha=8))
    model.build(2, NAMES)
    for name, param in model.lm.named_parameters():  # LoRA's B starts at 0: nudge it so that A's gradient is not 0
        if "lora_B" in name:
            param.data.normal_(0, 0.1)
    read = []
    hook = model.lm.get_input_embeddings().register_forward_hook(lambda _m, args, _o: read.append(args[0].shape))
    shared = model(TEXTS)
    hook.remove()
    prompts = model.tokenizer([model.chat(t) for t in TEXTS], padding=True, add_special_tokens=False)
    width = max(map(len, model.answer_ids))
    assert read == [(len(TEXTS), len(prompts.input_ids[0])), (len(TEXTS) * len(NAMES), width - 1)]

    answers = [ids for _ in TEXTS for ids in model.answer_ids]
    enc = model.tokenizer(
        [model.chat(t) for t in TEXTS for _ in NAMES], padding=True, add_special_tokens=False, return_tensors="pt"
    )
    repeated = class_scores(
        answer_log_probs(model.lm, enc, answers, model.tokenizer.pad_token_id, "cpu"), answers, 6, "sum"
    )
    assert torch.allclose(shared, repeated, atol=1e-4)
    trained = [p for p in model.lm.parameters() if p.requires_grad]
    labels = torch.tensor(LABELS)
    grads = [torch.autograd.grad(F.cross_entropy(s, labels), trained) for s in (shared, repeated)]
    assert all(torch.allclose(a, b, atol=1e-5) and b.abs().sum() > 0 for a, b in zip(*grads, strict=True))


def test_remote_code_runs_only_when_opted_in(lms, tmp_path):
    folder = tmp_path / "custom"
    LLMClassifier(str(lms["qwen2"])).lm.save_pretrained(folder)
    LLMClassifier(str(lms["qwen2"])).tokenizer.save_pretrained(folder)
    (folder / "custom_lm.py").write_text(
        "from transformers import Qwen2Config, Qwen2ForCausalLM\n"
        "class CustomConfig(Qwen2Config):\n    model_type = 'wb-custom'\n"
        "class CustomLM(Qwen2ForCausalLM):\n    config_class = CustomConfig\n"
    )
    config = read_json(folder / "config.json")
    config |= {"model_type": "wb-custom", "auto_map": {"AutoConfig": "custom_lm.CustomConfig"}}
    config["auto_map"]["AutoModelForCausalLM"] = "custom_lm.CustomLM"
    (folder / "config.json").write_text(__import__("json").dumps(config))
    with pytest.raises(ConfigError, match="model.model.init_args.model: cannot load"):
        LLMClassifier(str(folder))
    assert type(LLMClassifier(str(folder), trust_remote_code=True).lm).__name__ == "CustomLM"


def test_class_names_must_match_the_classes(lms):
    model = LLMClassifier(str(lms["qwen2"]), answers=["months"])
    with pytest.raises(ConfigError, match="answers: 1 class names for 2 classes"):
        model.build(2, NAMES)


@pytest.mark.slow
def test_prompt_once_benchmark_quick():
    from tests.helpers.benchmark_runs import ratios, run

    found = ratios(run("prompt_once", "--quick"))
    assert (
        set(found) == {"lora_step", "saved_for_backward"} and found["saved_for_backward"] > 1
    )  # fewer activations kept, whatever the timing
