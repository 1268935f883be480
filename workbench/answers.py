"""Class-name likelihood under a generative model: the one scorer of every classifier that reads a
language model's answer (the VLM of :mod:`vision.vlm`, the LLM text classifier of :mod:`cascade.llm`).

A prompt (text, or text + image) is followed by each candidate answer: a class name's tokens, then
the end-of-answer token (so that ``Monat`` does not win by being a prefix of ``Monate``). A class's
score is the sum (or mean) of its tokens' log-probabilities; class probabilities are the softmax
over the scores: no free text is generated or parsed.
"""

from __future__ import annotations

from typing import Literal

import torch

from workbench.errors import ConfigError

Score = Literal["sum", "mean"]
# how the answer tokens appended after the prompt are typed, per extra per-token input key:
# PaliGemma's token_type_ids 1 = suffix (causal; 0 would let the answer attend to itself ahead),
# Qwen2-VL's mm_token_type_ids 0 = text (1 marks image tokens)
SUFFIX_TYPES = {"token_type_ids": 1, "mm_token_type_ids": 0}


def answer_log_probs(
    model: torch.nn.Module, prompt: dict, answers: list[list[int]], pad_id: int, device: torch.device
) -> torch.Tensor:
    """Log-probabilities ``[N, W]`` of each row's answer tokens after its prompt (0 past its end).

    Args:
        model: a causal language model (``logits_to_keep`` as transformers' models take it).
        prompt: the tokenizer's / processor's output for N prompts, **left**-padded (answers are
            appended on the right, aligned across rows): ``input_ids [N, T]``, ``attention_mask``,
            other per-token inputs typed by :data:`SUFFIX_TYPES`, and any other inputs (pixel values).
        answers: N token-id lists (answer + end token).
        pad_id: the id padding the answers to one width W.
    """
    prompt = dict(prompt)
    ids = prompt.pop("input_ids")
    width = max(len(a) for a in answers)
    tail = torch.tensor([a + [pad_id] * (width - len(a)) for a in answers])
    tail_mask = torch.tensor([[1] * len(a) + [0] * (width - len(a)) for a in answers])
    inputs = {"input_ids": torch.cat([ids, tail], 1)}
    for key, value in prompt.items():
        if key != "pixel_values" and torch.is_tensor(value) and value.shape == ids.shape:  # per-token inputs
            if key == "attention_mask":
                value = torch.cat([value, tail_mask.to(value.dtype)], 1)
            elif key in SUFFIX_TYPES:
                value = torch.cat([value, torch.full_like(tail, SUFFIX_TYPES[key])], 1)
            else:
                raise ConfigError(f"model: the prompt's per-token input '{key}' is not known to the class scorer")
        inputs[key] = value
    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
    # logits of the last width + 1 positions only: position t predicts token t + 1
    logits = model(**inputs, logits_to_keep=width + 1).logits[:, :-1].float()
    tail, tail_mask = tail.to(device), tail_mask.to(device)
    return logits.log_softmax(-1).gather(-1, tail[..., None])[..., 0] * tail_mask


def class_scores(log_probs: torch.Tensor, answers: list[list[int]], rows: int, score: Score) -> torch.Tensor:
    """Answer-token log-probabilities ``[rows * C, W]`` (each row's C classes in turn) -> class scores
    ``[rows, C]``: the sum, or the mean over each answer's tokens."""
    total = log_probs.sum(1)
    if score == "mean":
        total = total / torch.tensor([len(a) for a in answers], device=total.device)
    return total.view(rows, -1)
