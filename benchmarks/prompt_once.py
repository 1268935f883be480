"""The LLM classifier's training step: each prompt read once for all class names vs once per class name.

    python -m benchmarks.prompt_once [--quick | --full]

:class:`cascade.llm.LLMClassifier` scores each class name as the answer to a prompt holding the text.
The established way (:func:`workbench.answer_scoring.answer_log_probs`, still the VLM's and the
speech-LLM's) repeats every prompt once per class; the LLM classifier now runs each prompt once and
repeats its keys and values for the class names
(:func:`workbench.answer_scoring.prompt_then_answers_log_probs`). Both sides take one LoRA training step
(forward, cross-entropy over the class scores, backward) on the same texts, interleaved round by round,
on a Qwen2.5-1.5B-wide model (width 1536, 8960 MLP, 12/2 heads, its 151,936-token vocabulary) with
fewer layers, random weights, float32 on the CPU. Besides the time, it counts the bytes of the
tensors autograd keeps for the backward pass (from ``saved_tensors_hooks``: each storage once, the
model's weights left out): the activations, which decide a GPU batch's memory. Prints seconds per
step, the saved bytes, and two ``RATIO`` lines.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.common import RATIO_PREFIX, base_parser, header, interleave, size_of

QWEN_1_5B = dict(width=1536, mlp=8960, heads=(12, 2), vocab=151936)  # Qwen2.5-1.5B (configs/models.yaml)
SETTINGS = {  # the model's layers and width, texts a step, class names, words a text, rounds
    "quick": dict(layers=1, width=64, mlp=128, heads=(4, 2), vocab=None, texts=2, classes=3, words=8, rounds=2),
    "default": dict(QWEN_1_5B, layers=2, texts=4, classes=6, words=60, rounds=3),
    "full": dict(QWEN_1_5B, layers=4, texts=8, classes=6, words=60, rounds=5),
}  # fmt: skip
CLASSES = ["science/technology", "travel", "politics", "sports", "health", "entertainment"]  # SIB-200's topics
WORDS = "the river town market opened a new bridge after years of talks between both councils and".split()


def build_classifier(folder: Path, size: dict):
    """An LLMClassifier with LoRA over a random Qwen2 of ``size`` (the tiny test tokenizer, the vocabulary padded)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from cascade.llm import LLMClassifier
    from tests.helpers.text_systems_testing import tiny_causal_lm
    from workbench.lora import LoraSettings

    tiny_causal_lm(folder, [" ".join(WORDS), *CLASSES] * 4)  # its tokenizer; the tiny model is replaced
    small = Qwen2ForCausalLM.from_pretrained(folder).config
    heads, kv_heads = size["heads"]
    config = Qwen2Config(
        vocab_size=size["vocab"] or small.vocab_size, hidden_size=size["width"], intermediate_size=size["mlp"],
        num_hidden_layers=size["layers"], num_attention_heads=heads, num_key_value_heads=kv_heads,
        tie_word_embeddings=True, eos_token_id=small.eos_token_id, pad_token_id=small.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    model = LLMClassifier(str(folder), lora=LoraSettings(r=8, alpha=16))
    model.build(size["classes"], CLASSES[: size["classes"]])
    return model


def step(model, texts: list[str], labels: torch.Tensor, once: bool) -> tuple[float, int]:
    """One forward and backward pass; returns its seconds and the bytes autograd saved for the backward."""
    import time

    from workbench.answer_scoring import answer_log_probs, class_scores

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}  # storage -> bytes: a tensor saved by several operations, or its views, count once

    def keep(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:  # the weights a matmul saves are not activations
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    started = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        if once:
            scores = model(texts)
        else:  # every prompt repeated once per class name
            answers = [ids for _ in texts for ids in model.answer_ids]
            prompts = [model.chat(text) for text in texts for _ in model.answer_ids]
            enc = model.tokenizer(prompts, padding=True, add_special_tokens=False, return_tensors="pt")
            log_probs = answer_log_probs(model.lm, enc, answers, model.tokenizer.pad_token_id, "cpu")
            scores = class_scores(log_probs, answers, len(texts), model.score)
        F.cross_entropy(scores, labels).backward()
    model.lm.zero_grad(set_to_none=True)
    return time.perf_counter() - started, sum(kept.values())


def main(argv: list[str] | None = None) -> list[str]:
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(args.threads)
    size = SETTINGS[size_of(args)]
    with tempfile.TemporaryDirectory(dir=args.work_dir) as scratch:
        model = build_classifier(Path(scratch) / "lm", size)
    texts = [" ".join(WORDS[(k + i) % len(WORDS)] for i in range(size["words"])) for k in range(size["texts"])]
    labels = torch.arange(size["texts"]) % size["classes"]
    tokens = len(model.tokenizer(model.chat(texts[0]), add_special_tokens=False).input_ids)
    saved = {}

    def side(once: bool):
        def run() -> float:
            seconds, saved[once] = step(model, texts, labels, once)
            return seconds

        return run

    result = interleave(
        "lora_step", "prompt once", "prompt per class", side(True), side(False), args.rounds or size["rounds"]
    )
    lines = header("the LLM classifier's step: prompt once vs per class", args)
    lines.append(
        f"Qwen2 width {size['width']}, {size['layers']} layers, vocabulary {size['vocab'] or 'tiny'}; "
        f"{size['texts']} texts of {tokens} prompt tokens, {size['classes']} class names; float32"
    )
    lines += result.lines()
    lines.append(f"saved for backward: prompt once {saved[True] / 1e6:.1f} MB, per class {saved[False] / 1e6:.1f} MB")
    lines.append(f"{RATIO_PREFIX} saved_for_backward: {saved[False] / saved[True]:.2f}x less, prompt once vs per class")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
