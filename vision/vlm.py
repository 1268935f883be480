"""A generative vision-language model (transformers) that classifies by the likelihood of each class name.

An image of language L is shown with a question written in L (through the processor's chat
template when it has one, as the Instruct models were trained; else the bare question,
PaliGemma's prefix style). Each class name in L is then scored as the answer: the sum (or
mean) of the log-probabilities of its tokens, followed by the end-of-answer token (so that
``Monat`` does not win by being a prefix of ``Monate``). Class probabilities are the softmax
over those scores: no free text is generated or parsed.

Training (``loss``): ``lm``, the usual fine-tuning of a generative model (token-mean negative
log-likelihood of the gold answer, one sequence per image), or ``classes``, the cross-entropy
of the softmax over the class scores (one sequence per image and class). LoRA adapters (peft)
on the language model's attention by default; everything else stays frozen. Checkpoints then
hold the trained parameters only (the base model comes back from ``model_id``).

The model comes through ``AutoModelForImageTextToText`` (transformers' own VLMs) or, for a VLM whose
own code registers it as a causal LM (Centurio), ``AutoModelForCausalLM``; the image's place in the
prompt is then a literal placeholder that its processor expands into the image's tokens. The scorer
reads the answer's tokens at the end of each sequence, so that expansion, earlier in the prompt,
moves nothing it reads. Remote code is never run unless ``trust_remote_code: true`` is set in the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from PIL import Image

from vision.module import ClassScorer, Script
from workbench.answer_scoring import Score, answer_log_probs, answer_token_ids, class_scores
from workbench.errors import ConfigError
from workbench.lora import LoraSettings, adapters_only
from workbench.optim import Optim
from workbench.romanize import romanize

DType = Literal["float32", "bfloat16", "float16"]
AutoClass = Literal["image-text-to-text", "causal-lm"]
AUTO_CLASSES = {"image-text-to-text": "AutoModelForImageTextToText", "causal-lm": "AutoModelForCausalLM"}


@dataclass
class Questions:
    """The question shown with each image, per language (its script is the data's: ``data.script``).

    Args:
        texts: language -> the question, written in that language.
    """

    texts: dict[str, str] = field(default_factory=dict)


# the language model's attention projections get adapters when model.lora.target_modules is null
VLM_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
torch.serialization.add_safe_globals([Questions])  # hyper-parameters read with weights_only=True


class SquareImage:
    """PIL image -> uint8 tensor ``[3, size, size]`` (bicubic): one shape, so batches stack; the
    processor does the model's own normalisation (and patching) on it."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, image: Image.Image) -> torch.Tensor:
        from torchvision.transforms.functional import pil_to_tensor

        return pil_to_tensor(image.convert("RGB").resize((self.size, self.size), Image.Resampling.BICUBIC))


class VisionVLM(ClassScorer, L.LightningModule):
    """A transformers generative VLM classifying by class-name likelihood (module docstring).

    Args:
        model_id: hub id (``Qwen/Qwen2-VL-2B-Instruct``) or a local folder with model and processor.
        trust_remote_code: run the repository's own code (opt-in; False loads transformers' classes only).
        auto_class: the transformers Auto class that loads ``model_id``: ``image-text-to-text`` (Qwen2-VL,
            PaliGemma) or ``causal-lm`` (a VLM whose own code registers it as a causal LM, as Centurio's does).
        image_placeholder: where the image goes in the prompt: None, a structured ``{"type": "image"}`` part
            that the chat template places (Qwen2-VL); else this literal text before the question in a plain
            string message, which the processor expands into the image's tokens (Centurio:
            ``<image_placeholder>``).
        dtype: weights' dtype (``bfloat16`` on GPUs; ``float32`` on CPU).
        image_size: images are resized to this square (pixels) before the processor.
        prompts: the question per language.
        answers: ``{language: [class name per label]}`` replacing the data's class names (e.g. a
            category word when the data's texts are the images' contents).
        loss: ``lm`` (gold answer likelihood) or ``classes`` (softmax over the class scores).
        score: ``sum`` or ``mean`` of the answer tokens' log-probabilities.
        lora: adapters (:mod:`workbench.lora`; default targets: the language model's attention
            projections); None trains every parameter.
        optim: ``lr``, ``weight_decay``, ``warmup`` (:mod:`workbench.optim`).
        num_classes: number of classes (linked from the data).
        class_names: ``{language: [class name per label]}`` (linked from the data).
        system: system name for run tables; default ``vlm-lora[-romanized]`` or ``vlm-zeroshot-<script>``.
        script: the questions' and answers' script, ``native`` or ``romanized`` by uroman (linked from
            ``data.script``).
    """

    names_key, family = "model.answers", "vlm"

    def __init__(
        self,
        model_id: str,
        trust_remote_code: bool = False,
        auto_class: AutoClass = "image-text-to-text",
        image_placeholder: str | None = None,
        dtype: DType = "float32",
        image_size: int = 224,
        prompts: Questions | None = None,
        answers: dict[str, list[str]] | None = None,
        loss: Literal["lm", "classes"] = "lm",
        score: Score = "sum",
        lora: LoraSettings | None = None,
        optim: Optim | None = None,
        num_classes: int | None = None,
        class_names: dict[str, list[str]] | None = None,
        system: str | None = None,
        script: Script = "native",
    ):
        needs_names = "scoring class names (or model.answers)"
        super().__init__(loss, lora, optim, answers or class_names, num_classes, needs_names)
        self.save_hyperparameters()
        import transformers

        self.prompt_cfg, self.script = prompts or Questions(), script
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(model_id, trust_remote_code=trust_remote_code)
            self.vlm = getattr(transformers, AUTO_CLASSES[auto_class]).from_pretrained(
                model_id, trust_remote_code=trust_remote_code, dtype=getattr(torch, dtype)
            )
        except (OSError, ValueError) as err:  # not found offline, not of that Auto class, remote code refused
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            refused = "custom code" in first and not trust_remote_code  # transformers' words for remote code
            hint = " (model.trust_remote_code: true runs it)" if refused else ""
            raise ConfigError(
                f"model.model_id: cannot load '{model_id}' as a model.auto_class '{auto_class}' model: {first}{hint}"
            ) from None
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # answers are appended on the right, aligned across rows
        self.preprocess_train = self.preprocess_val = SquareImage(image_size)
        if lora is not None:  # on the language model's attention projections by default
            adapters_only(self.vlm, lora, VLM_TARGETS)
        self.strict_loading = not lora  # LoRA checkpoints hold the adapters only
        self._answer_cache: dict[str, list[list[int]]] = {}

    # -- texts -----------------------------------------------------------------------------
    def _script(self, texts: list[str], language: str) -> list[str]:
        if self.script == "native":
            return texts
        return [romanize(text, language) for text in texts]

    def prompt_texts(self, language: str) -> list[str]:
        """The class names of one language as scored (the candidate answers), in the configured script."""
        if language not in self.class_names:
            raise ConfigError(f"no class names for language '{language}' (have {sorted(self.class_names)})")
        return self._script(list(self.class_names[language]), language)

    def question(self, language: str) -> str:
        if language not in self.prompt_cfg.texts:
            raise ConfigError(
                f"model.prompts.texts: no question in '{language}' (have {sorted(self.prompt_cfg.texts)})"
            )
        return self._script([self.prompt_cfg.texts[language]], language)[0]

    def chat(self, language: str) -> str:
        """The text the processor gets: the image's place and the question in the chat template, ready for the
        answer (without a chat template: that text bare; with no placeholder the processor places the image,
        PaliGemma's way)."""
        question, placeholder = self.question(language), self.hparams.image_placeholder
        if placeholder is None:
            content = [{"type": "image"}, {"type": "text", "text": question}]
        else:  # the processor expands the placeholder into the image's tokens
            content = question = f"{placeholder}\n{question}"
        if getattr(self.processor, "chat_template", None) is None:
            return question
        return self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )

    def answer_ids(self, language: str) -> list[list[int]]:
        """Token ids of each class name of ``language``, then the end-of-answer token (cached)."""
        key = f"{language}:{self.script}"  # the demo switches scripts on one model
        if key not in self._answer_cache:
            self._answer_cache[key] = answer_token_ids(self.tokenizer, self.prompt_texts(language))
        return self._answer_cache[key]

    # -- scoring ---------------------------------------------------------------------------
    def answer_log_probs(self, images: list, languages: list[str], answers: list[list[int]]) -> torch.Tensor:
        """Log-probabilities ``[N, W]`` of each row's answer tokens after its image and question (0 past its end).

        ``images``: N uint8 ``[3, H, W]`` tensors; ``answers``: N token-id lists (answer + end token).
        """
        enc = self.processor(
            text=[self.chat(lang) for lang in languages], images=images, padding=True, return_tensors="pt"
        )
        return answer_log_probs(self.vlm, enc, answers, self.tokenizer.pad_token_id, self.device)

    def logits(self, images: torch.Tensor, languages: list[str], cached: bool = True) -> torch.Tensor:
        """Images ``[B, 3, H, W]`` (uint8) of the given languages -> class scores ``[B, C]`` (log-likelihoods)."""
        del cached  # the class names' token ids are always cached; kept for VisionCLIP's signature
        classes = self.num_classes
        # each image repeated per class name, not read once with its keys and values shared (as the LLM classifier
        # and the speech LLM do): transformers 5.25's Qwen2-VL builds a cached step's 3-D positions over the whole
        # attention mask, not the new tokens', and fails
        pictures = [image.cpu() for image in images for _ in range(classes)]
        rows = [lang for lang in languages for _ in range(classes)]
        answers = [ids for lang in languages for ids in self.answer_ids(lang)]
        return class_scores(self.answer_log_probs(pictures, rows, answers), answers, len(languages), self.hparams.score)

    def gold_loss(self, batch: dict) -> torch.Tensor:
        """Token-mean negative log-likelihood of each image's gold answer (``loss: lm``)."""
        answers = [
            self.answer_ids(lang)[int(label)] for lang, label in zip(batch["language"], batch["label"], strict=True)
        ]
        images = [image.cpu() for image in batch["image"]]
        return -self.answer_log_probs(images, batch["language"], answers).sum() / sum(len(a) for a in answers)

    def fitted_name(self, script: str) -> str:
        return "vlm-lora" + ("" if script == "native" else "-romanized") if self.lora else "vlm-finetune"

    # -- steps -----------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.loss_name == "lm":
            loss = self.gold_loss(batch)
        else:
            loss = F.cross_entropy(self.logits(batch["image"], batch["language"]), batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    # -- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.lora is not None:  # the adapters only: the frozen base comes back from model_id
            trained = {f"vlm.{n}" for n, p in self.vlm.named_parameters() if p.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}
        checkpoint["vlm"] = {
            "model_id": self.hparams.model_id,
            "questions": {lang: self.question(lang) for lang in self.class_names if lang in self.prompt_cfg.texts},
            "answers": {lang: self.prompt_texts(lang) for lang in self.class_names},
        }
