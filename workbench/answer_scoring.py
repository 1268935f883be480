"""Class names scored as a generative model's answer: the one scorer of every likelihood classifier.

A processor's output for N prompts (a question with an image, a clip, or text alone) gets each
row's candidate answer appended (its tokens, then the end-of-answer token, so that ``Monat``
does not win by being a prefix of ``Monate``); one forward pass gives the log-probability of each
answer token (or, :func:`prompt_then_answers_log_probs`, each prompt runs once and its keys and
values are repeated for each answer). Class scores are their sum (or mean); nothing is generated or parsed. Used by
:class:`vision.vlm.VisionVLM` (Qwen2-VL, PaliGemma, Centurio), :class:`speech.speech_llm.SpeechLLM`
(Qwen2-Audio) and :class:`cascade.llm.LLMClassifier` (an LLM as the cascade's text classifier).
"""

from __future__ import annotations

from typing import Literal

import torch

from workbench.errors import ConfigError

Score = Literal["sum", "mean"]
# how the answer tokens are typed in per-token inputs other than the ids and the attention mask:
# PaliGemma's token_type_ids 1 = suffix (causal; 0 would let the answer attend to itself ahead),
# Qwen2-VL's mm_token_type_ids 0 = text (1 marks image tokens)
SUFFIX_TYPES = {"token_type_ids": 1, "mm_token_type_ids": 0}
# a processor's inputs that are not per token, whatever their shape (images, audio features)
NOT_PER_TOKEN = {"pixel_values", "input_features", "feature_attention_mask"}


def answer_token_ids(tokenizer, names: list[str]) -> list[list[int]]:
    """Each name's token ids followed by the tokenizer's end token (when it has one)."""
    end = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    return [tokenizer(name, add_special_tokens=False).input_ids + end for name in names]


def padded_answers(answers: list[list[int]], pad_id: int | None, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Answers as one ``[N, W]`` tensor of ids (``pad_id``, or 0, past each end) and its 0/1 mask."""
    width = max(len(a) for a in answers)
    ids = torch.tensor([a + [pad_id or 0] * (width - len(a)) for a in answers], device=device)
    return ids, torch.tensor([[1] * len(a) + [0] * (width - len(a)) for a in answers], device=device)


def answer_log_probs(model, enc: dict, answers: list[list[int]], pad_id: int | None, device) -> torch.Tensor:
    """Log-probabilities ``[N, W]`` of each row's answer tokens after its prompt (0 past its end).

    Args:
        model: a transformers causal LM (or image/audio-text-to-text model) taking ``logits_to_keep``.
        enc: the processor's output for N prompts, left-padded (``input_ids`` ``[N, L]`` ...).
        answers: N token-id lists (answer + end token), one per row.
        pad_id: the id padding the answers to one width (0 when None).
    """
    enc = dict(enc)
    ids = enc.pop("input_ids")
    tail, tail_mask = padded_answers(answers, pad_id, "cpu")
    width = tail.shape[1]
    inputs = {"input_ids": torch.cat([ids, tail], 1)}
    for key, value in enc.items():
        if key not in NOT_PER_TOKEN and torch.is_tensor(value) and value.shape == ids.shape:  # per-token inputs
            if key == "attention_mask":
                value = torch.cat([value, tail_mask.to(value.dtype)], 1)
            elif key in SUFFIX_TYPES:
                value = torch.cat([value, torch.full_like(tail, SUFFIX_TYPES[key])], 1)
            else:
                raise ConfigError(f"model: the processor's per-token input '{key}' is not known to the answer scorer")
        inputs[key] = value
    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
    # logits of the last width + 1 positions: position t predicts token t + 1. Sliced here too, as
    # not every model honours logits_to_keep (Qwen2-Audio passes it on unused and returns them all)
    logits = model(**inputs, logits_to_keep=width + 1).logits[:, -(width + 1) : -1].float()
    tail, tail_mask = tail.to(device), tail_mask.to(device)
    return logits.log_softmax(-1).gather(-1, tail[..., None])[..., 0] * tail_mask


def prompt_then_answers_log_probs(
    model, enc: dict, answers: list[list[int]], pad_id: int | None, device
) -> torch.Tensor:
    """Log-probabilities ``[N * C, W]`` of N prompts each followed by each of its C answers, each prompt
    (with its image or audio) through the model once.

    The numbers of :func:`answer_log_probs` over every prompt repeated C times, but the prompt's keys and
    values are computed once and repeated for its C answers: 1/C of the prompt's compute and of the
    activations kept for training (the prompt, its image or audio, is nearly all of a row's tokens,
    and C is the number of classes).

    Args:
        model, pad_id: as for :func:`answer_log_probs`.
        enc: the processor's output for N prompts, left-padded, each prompt once.
        answers: N * C token-id lists: row ``n * C + c`` is prompt n's c-th answer.
    """
    enc = {k: v.to(device) if torch.is_tensor(v) else v for k, v in enc.items()}
    rows, mask = enc["input_ids"].shape[0], enc["attention_mask"]
    classes = len(answers) // rows
    tail, tail_mask = padded_answers(answers, pad_id, device)
    prompt = model(**enc, use_cache=True, logits_to_keep=1)
    # the prompt's last position predicts each of its answers' first token
    last = prompt.logits[:, -1].float().log_softmax(-1)
    first = last[torch.arange(rows, device=device).repeat_interleave(classes), tail[:, 0]][:, None]
    if tail.shape[1] == 1:
        return first * tail_mask
    cache = prompt.cache
    cache.batch_repeat_interleave(classes)  # row n * C + c reads prompt n's keys and values
    # positions go on from the prompt's (as in one pass over prompt + answer); the mask covers both
    inputs = {"input_ids": tail[:, :-1]}
    inputs["attention_mask"] = torch.cat([mask.repeat_interleave(classes, 0), tail_mask.to(mask.dtype)], 1)[:, :-1]
    for key in set(enc) & set(SUFFIX_TYPES):  # the answer typed as in one pass over prompt + answer
        inputs[key] = torch.full_like(inputs["input_ids"], SUFFIX_TYPES[key])
    logits = model(**inputs, cache=cache).logits.float()
    rest = logits.log_softmax(-1).gather(-1, tail[:, 1:, None])[..., 0]
    return torch.cat([first, rest], 1) * tail_mask


def class_scores(log_probs: torch.Tensor, answers: list[list[int]], rows: int, score: Score) -> torch.Tensor:
    """Answer-token log-probabilities ``[rows * C, W]`` (each row's C classes in turn) -> class scores
    ``[rows, C]``: the sum, or the mean over each answer's tokens."""
    total = log_probs.sum(1)
    if score == "mean":
        total = total / torch.tensor([len(a) for a in answers], device=total.device)
    return total.view(rows, -1)
