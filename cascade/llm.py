"""An LLM as the cascade's text classifier: each class name scored as the answer to a prompt holding the text.

The prompt (an English instruction with the text in it, through the tokenizer's chat template when
it has one, as Instruct models were trained) is followed by each class name and the end-of-answer
token; a class's logit is its answer's log-likelihood (:mod:`workbench.answer_scoring`, the scorer the VLM
of :mod:`vision.vlm` uses too; the prompt runs once, its keys and values shared by the class names).
So the model classifies zero-shot (``cascade.fit --fit false``), and fine-tuning (the cross-entropy of the
softmax over the class scores) trains LoRA adapters
(:mod:`workbench.lora`; default targets: the attention projections) or, without ``lora``, every weight.

Remote code is never run unless ``trust_remote_code: true`` is set in the config.
"""

from __future__ import annotations

from typing import Literal

import torch

from cascade.text_models import TextModel
from workbench.answer_scoring import Score, answer_token_ids, class_scores, prompt_then_answers_log_probs
from workbench.errors import ConfigError
from workbench.lora import LoraSettings, adapters_only, as_lora

LLM_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]  # Qwen2's and Llama's attention projections
DType = Literal["float32", "bfloat16", "float16"]
PROMPT = "Classify the following text into one of these topics: {classes}.\n\nText: {text}\n\nTopic:"


class LLMClassifier(TextModel):
    """A ``transformers`` causal LM classifying texts by class-name likelihood (module docstring).

    Args:
        model: hub id (``Qwen/Qwen2.5-1.5B-Instruct``, ``meta-llama/Llama-3.2-1B``) or a local folder.
        answers: the class names as the model reads them, in label order; None: the data's label names.
        prompt: the instruction; ``{text}`` is the text, ``{classes}`` the answers joined by commas.
        trust_remote_code: run the repository's own code (opt-in; False loads transformers' classes only).
        dtype: weights' dtype (``bfloat16`` on GPUs; ``float32`` on CPU).
        score: ``sum`` or ``mean`` of the answer tokens' log-probabilities.
        lora: adapters (:mod:`workbench.lora`); None fine-tunes every weight (when the program fits).
        max_length: tokens of a text kept (the rest cut) before it goes into the prompt.
    """

    def __init__(
        self,
        model: str = "Qwen/Qwen2.5-1.5B-Instruct",
        answers: list[str] | None = None,
        prompt: str = PROMPT,
        trust_remote_code: bool = False,
        dtype: DType = "float32",
        score: Score = "sum",
        lora: LoraSettings | None = None,
        max_length: int = 256,
    ):
        super().__init__()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if "{text}" not in prompt:
            raise ConfigError("model.model.init_args.prompt: has no '{text}' to put the text in")
        self.name, self.answers, self.prompt, self.score, self.max_length = model, answers, prompt, score, max_length
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
            self.lm = AutoModelForCausalLM.from_pretrained(
                model, trust_remote_code=trust_remote_code, dtype=getattr(torch, dtype)
            )
        except (OSError, ValueError) as err:  # not found offline, not a causal LM, remote code refused
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"model.model.init_args.model: cannot load '{model}' as a causal LM: {first}") from None
        self.tokenizer.padding_side = "left"  # answers are appended on the right, aligned across rows
        self.lora = as_lora(lora) if lora is not None else None
        if self.lora is not None:
            adapters_only(self.lm, self.lora, LLM_TARGETS)
        self.answer_ids: list[list[int]] = []

    def build(self, num_classes: int, label_names: list[str] | None = None) -> None:
        names = list(self.answers or label_names or [])
        if len(names) != num_classes:
            raise ConfigError(
                f"model.model.init_args.answers: {len(names)} class names for {num_classes} classes "
                "(name them in label order, or leave them null for the data's label names)"
            )
        self.answers = names
        space = "" if getattr(self.tokenizer, "chat_template", None) else " "  # a bare prompt ends in "Topic:"
        self.answer_ids = answer_token_ids(self.tokenizer, [space + n for n in names])

    def chat(self, text: str) -> str:
        """The prompt the model reads for one text, ready for the answer."""
        kept = self.tokenizer(text or "", add_special_tokens=False).input_ids[: self.max_length]
        question = self.prompt.format(text=self.tokenizer.decode(kept), classes=", ".join(self.answers))
        if getattr(self.tokenizer, "chat_template", None) is None:
            return question
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )

    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        """``len(texts)`` strings -> class scores ``(B, C)`` (answer log-likelihoods)."""
        enc = self.tokenizer(
            [self.chat(text) for text in texts], padding=True, add_special_tokens=False, return_tensors="pt"
        )
        device = next(self.lm.parameters()).device
        pad = self.tokenizer.pad_token_id
        answers = [ids for _ in texts for ids in self.answer_ids]
        log_probs = prompt_then_answers_log_probs(self.lm, enc, answers, pad, device)  # each prompt once
        return class_scores(log_probs, answers, len(texts), self.score)

    def make_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        trained = [(n, p) for n, p in self.lm.named_parameters() if p.requires_grad]
        decay = [p for _, p in trained if p.ndim > 1]
        rest = [p for _, p in trained if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
        return [torch.optim.AdamW(groups, lr=lr)]
