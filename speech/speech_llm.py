"""A speech-LLM (Qwen2-Audio through transformers) classifying a clip by the likelihood of each class name.

``python -m speech.speech_llm -c configs/speech_llm/qwen2_audio.yaml [--fit false]``: the speech
E2E program's steps (:mod:`speech.fit`: same data, protocols, run directory and record)
with a speech-LLM as the model. Each clip is given with a question (in the chat template, as the
Instruct model was trained); every class name is then scored as the answer by
:mod:`workbench.answer_scoring` (the VLM's scorer): the sum (or mean) of its tokens'
log-probabilities, followed by the end-of-answer token. Class probabilities are the softmax over
those scores. Each clip and its prompt go through the model once a batch; their keys and values are
repeated for the C class names (B x C answer rows).

Zero-shot (``--fit false``), or fine-tuned with LoRA (peft, :mod:`workbench.lora`) on the language
model's attention (``loss: lm``: the gold answer's token-mean negative log-likelihood; ``classes``:
cross-entropy over the class scores). bf16 weights on GPU (``dtype: bfloat16``); adapters stay
float32. Remote code is never run unless ``trust_remote_code: true``.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F

from speech.data import SpeechDataModule
from speech.fit import TRAINER
from workbench.answer_scoring import answer_log_probs, answer_token_ids, class_scores, prompt_then_answers_log_probs
from workbench.distributed import program_scope
from workbench.errors import ConfigError
from workbench.lora import LoraSettings, adapters_only
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups
from workbench.program import Run, entry, evaluate, train

SAMPLE_RATE = 16000  # Hz: Qwen2-Audio's Whisper feature extractor
LLM_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]  # the language model's attention (the audio encoder's
# attention is named the same: adapters on both unless model.lora.target_modules narrows them)
DType = Literal["float32", "bfloat16", "float16"]
# the answers are the corpus' label names unless model.answers names them
LINKS = (("data.num_classes", "model.num_classes"), ("data.label_names", "model.class_names"))


class SpeechLLM(L.LightningModule):
    """Audio + question -> class scores by answer likelihood (see the module docstring).

    Args:
        model_id: hub id (``Qwen/Qwen2-Audio-7B-Instruct``) or a local folder with model and processor.
        trust_remote_code: run the repository's own code (opt-in; False loads transformers' classes only).
        dtype: weights' dtype (``bfloat16`` on GPUs; ``float32`` on CPU).
        question: the question asked with every clip.
        answers: the class names scored, in label order (default the corpus' label names).
        loss: ``lm`` (gold answer likelihood) or ``classes`` (softmax over the class scores).
        score: ``sum`` or ``mean`` of the answer tokens' log-probabilities.
        lora: adapters (default targets: attention projections); None trains every parameter.
        optim: ``lr``, ``weight_decay``, ``warmup`` (:mod:`workbench.optim`).
        num_classes: number of classes (linked from the data).
        class_names: the corpus' label names (linked from the data).
        system: system name for run tables; default ``speechllm-lora`` / ``speechllm-zeroshot``.
    """

    def __init__(
        self,
        model_id: str,
        trust_remote_code: bool = False,
        dtype: DType = "float32",
        question: str = "What is the topic of this recording? Answer with one word.",
        answers: list[str] | None = None,
        loss: Literal["lm", "classes"] = "lm",
        score: Literal["sum", "mean"] = "sum",
        lora: LoraSettings | None = None,
        optim: Optim | None = None,
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        system: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.names = list(answers or class_names or [])
        if not self.names:
            raise ConfigError("model.answers: scoring class names needs them (or the data's label names)")
        if num_classes is not None and len(self.names) != num_classes:
            raise ConfigError(f"model.answers: {len(self.names)} names for {num_classes} classes")
        self.num_classes, self.loss_name, self.lora, self.optim = len(self.names), loss, lora, as_optim(optim)
        from transformers import AutoModelForCausalLM, AutoProcessor, Qwen2AudioForConditionalGeneration

        try:
            self.processor = AutoProcessor.from_pretrained(model_id, trust_remote_code=trust_remote_code)
            model_class = AutoModelForCausalLM if trust_remote_code else Qwen2AudioForConditionalGeneration
            self.llm = model_class.from_pretrained(
                model_id, trust_remote_code=trust_remote_code, dtype=getattr(torch, dtype)
            )
        except (OSError, ValueError, TypeError) as err:  # not found offline, another architecture, remote code
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"model.model_id: cannot load '{model_id}' as a speech-LLM: {first}") from None
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # answers are appended on the right, aligned across rows
        self.answer_ids = answer_token_ids(self.tokenizer, self.names)
        if lora is not None:
            adapters_only(self.llm, lora, LLM_TARGETS)
        self.strict_loading = not lora  # LoRA checkpoints hold the adapters only

    def prompt(self) -> str:
        """The chat text the processor gets: the audio placeholder and the question, ready for the answer."""
        content = [{"type": "audio", "audio_url": "clip"}, {"type": "text", "text": self.hparams.question}]
        return self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )

    def encode(self, batch: dict) -> dict:
        """The processor's inputs for the batch's clips (padded waves cut to their lengths)."""
        clips = [
            wave[:length].float().cpu().numpy() for wave, length in zip(batch["waves"], batch["lengths"], strict=True)
        ]
        return self.processor(
            text=[self.prompt()] * len(clips), audio=clips, sampling_rate=SAMPLE_RATE, padding=True, return_tensors="pt"
        )

    def logits(self, batch: dict) -> torch.Tensor:
        """Clips -> class scores ``[B, C]`` (answer log-likelihoods): each clip and prompt through the model once,
        its keys and values shared by the C class names."""
        clips = len(batch["lengths"])
        answers = self.answer_ids * clips
        pad = self.tokenizer.pad_token_id
        log_probs = prompt_then_answers_log_probs(self.llm, self.encode(batch), answers, pad, self.device)
        return class_scores(log_probs, answers, clips, self.hparams.score)

    def gold_loss(self, batch: dict) -> torch.Tensor:
        """Token-mean negative log-likelihood of each clip's gold answer (``loss: lm``)."""
        answers = [self.answer_ids[int(label)] for label in batch["label"]]
        log_probs = answer_log_probs(self.llm, self.encode(batch), answers, self.tokenizer.pad_token_id, self.device)
        return -log_probs.sum() / sum(len(a) for a in answers)

    # -- steps ---------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.loss_name == "lm":
            loss = self.gold_loss(batch)
        else:
            loss = F.cross_entropy(self.logits(batch), batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits, size = self.logits(batch), len(batch["label"])
        self.log("val/loss", F.cross_entropy(logits, batch["label"]), batch_size=size)
        self.log("val/acc", (logits.argmax(-1) == batch["label"]).float().mean(), prog_bar=True, batch_size=size)

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index (B,), probabilities (B, C))``: the softmax over the class scores."""
        return batch["index"].cpu(), self.logits(batch).softmax(-1).float().cpu()

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return adamw_warmup_cosine(decay_groups(params, self.optim.weight_decay), self.optim, self.trainer)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.lora is not None:  # the adapters only: the frozen base comes back from model_id
            trained = {f"llm.{n}" for n, p in self.llm.named_parameters() if p.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}


def system_name(model: SpeechLLM, fitted: bool) -> str:
    """``model.system``, else ``speechllm-lora`` (fitted with adapters) or ``speechllm-zeroshot``."""
    return model.hparams.system or ("speechllm-lora" if fitted and model.lora else "speechllm-zeroshot")


def identity(model: SpeechLLM, fitted: bool) -> dict:
    """What the run record says of a speech-LLM."""
    mode = ("lora" if model.lora else "finetune") if fitted else "zeroshot"
    return {"family": "speech-llm", "name": model.hparams.model_id, "loss": model.loss_name, "mode": mode}


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """The speech E2E program's steps (:mod:`speech.fit`) with a speech-LLM as the model: the same data,
    protocols, run directory and record (``model.family`` ``speech-llm``)."""
    run = train(SpeechLLM, SpeechDataModule, args, fallback="speech_llm", links=LINKS, trainer_defaults=TRAINER)
    model, fitted = run.model, bool(run.parsed.config["fit"])
    return evaluate(
        run,
        path="e2e",
        modality="speech",
        system=system_name(model, fitted),
        model=identity(model, fitted),
        sections={"answers": model.names, "question": model.hparams.question},
    )


if __name__ == "__main__":
    entry(main)
