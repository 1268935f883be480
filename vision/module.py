"""The vision LightningModule: an open_clip model classifying by class prompts or by a head.

Classification of an image of language L (the language only chooses the text side):

- by **prompts** (zero-shot style): cosine similarity between the image embedding and the
  embeddings of the class prompts written in L (``templates[L].format(class name in L)``,
  romanized by uroman when ``script="romanized"``), times the model's logit scale;
- by a linear **head** on the image embedding (language-blind: every language gets the
  same prediction for the same image; a control, not a cross-lingual system).

Training losses (``loss``):

- ``captions``: symmetric image-text contrastive loss (CLIP) on the items' texts in the
  training languages; identical texts in a batch (class names) count as one text with
  several positive images, so class-name corpora do not punish same-class pairs;
- ``prompts``: cross-entropy of the image against its language's class prompts;
- ``head``: cross-entropy of a linear head.

The image-text losses are softmax (CLIP's) or sigmoid (SigLIP's: every image-text pair an
independent binary decision, ``logit_scale * cos + logit_bias``; open_clip's ``SigLipLoss``)
by ``contrast``; ``auto`` takes sigmoid for models that carry a ``logit_bias`` (open_clip's
SigLIP architectures, ``init_logit_bias``), softmax otherwise. Predicted probabilities are
the softmax over the classes either way (the bias is the same for every class and cancels).

Either tower can be frozen (``freeze``) and LoRA adapters (peft) can replace full
fine-tuning of the towers' linear layers (``lora``). Conv image towers run faster on CPU in
channels-last memory layout (``channels_last``: the same weights and results, another layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from vision.lora import LoraSettings, add_lora
from vision.model import TokenizerName, load_clip, tower_of
from vision.prompts import tokenize
from workbench.errors import ConfigError
from workbench.optim import Optim, adamw_warmup_cosine, as_optim, decay_groups
from workbench.romanize import Script, romanize

__all__ = ["ClassScorer", "Optim", "Prompts", "VisionCLIP"]

Loss = Literal["captions", "prompts", "head"]
Tower = Literal["image", "text"]
Contrast = Literal["auto", "softmax", "sigmoid"]


@dataclass
class Prompts:
    """How class prompts are written (their script is the data's: ``data.script``).

    Args:
        templates: language -> template with one ``{}`` for the class name; ``{}`` (the bare
            name) for languages not listed. Write each template in its own language.
    """

    templates: dict[str, str] = field(default_factory=dict)


# modules built in code keep prompts in their hyper-parameters: checkpoints read with weights_only=True
torch.serialization.add_safe_globals([Prompts])


class ClassScorer:
    """What every image classifier of :mod:`vision` shares, given its ``logits(images, languages)``
    ``[B, C]``: its settings and class names checked (``__init__``), validation
    (``val/loss``, ``val/acc``), the probabilities :mod:`workbench.program` collects, and AdamW
    with warm-up + cosine on the trainable parameters."""

    names_key = "model.class_names"  # where the class names are set, for errors
    family = "vis"  # the system names' prefix

    def __init__(
        self,
        loss: str,
        lora: LoraSettings | None,
        optim: Optim | None,
        class_names: dict[str, list[str]] | None,
        num_classes: int | None,
        needs_names: str,
    ):
        """The settings every classifier keeps, and its class names checked: ``needs_names``
        (what scores class names; empty: nothing does) makes them required, and each
        language's list must have ``num_classes`` names."""
        super().__init__()
        self.loss_name, self.lora, self.optim = loss, lora, as_optim(optim)
        if not class_names and needs_names:
            raise ConfigError(f"model.class_names: {needs_names} needs class names per language")
        self.class_names = dict(class_names or {})
        self.num_classes = num_classes or len(next(iter(self.class_names.values())))
        for language, names in self.class_names.items():
            if len(names) != self.num_classes:
                raise ConfigError(f"{self.names_key}.{language}: {len(names)} names for {self.num_classes} classes")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        logits = self.logits(batch["image"], batch["language"])
        size = len(batch["label"])
        self.log("val/loss", F.cross_entropy(logits, batch["label"]), batch_size=size)
        self.log("val/acc", (logits.argmax(-1) == batch["label"]).float().mean(), prog_bar=True, batch_size=size)

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index (B,), probabilities (B, C))``: the softmax over the class logits."""
        return batch["index"].cpu(), self.logits(batch["image"], batch["language"]).softmax(-1).float().cpu()

    def system_name(self, fitted: bool) -> str:
        """``model.system``, else ``<family>-zeroshot-<script>`` evaluated without training, else
        :meth:`fitted_name` (``self.family``: ``vis``, ``vlm``; ``script``: of the prompts)."""
        if self.hparams.system:
            return self.hparams.system
        if not fitted:
            return f"{self.family}-zeroshot-{self.script}"
        return self.fitted_name(self.script)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("model: nothing to train (every weight frozen, no head, no adapters)")
        return adamw_warmup_cosine(decay_groups(params, self.optim.weight_decay), self.optim, self.trainer)


class VisionCLIP(ClassScorer, L.LightningModule):
    """An open_clip model fine-tuned and evaluated per language (see the module docstring).

    Args:
        model_name: open_clip architecture (``xlm-roberta-base-ViT-B-32``, ``nllb-clip-base``,
            ``wb-tiny-bytes``...), ``local-dir:<folder>`` or ``hf-hub:<id>``.
        pretrained: open_clip pretrained tag (``laion5b_s13b_b90k``) or a checkpoint file;
            None trains from scratch.
        tokenizer: ``model`` (the model's own) or ``bytes`` (UTF-8 bytes, small towers).
        architecture: an open_clip architecture dict registered under ``model_name``.
        context_length: overrides the text context length (tokens).
        aug_cfg: open_clip training augmentation (``scale``, ``color_jitter``...).
        loss: ``captions`` (contrastive), ``prompts`` (class prompts) or ``head``.
        prompts: prompt templates per language.
        freeze: towers not trained at all (``image``, ``text``).
        lora: LoRA adapters on the linear layers of the towers that are not frozen (their
            other weights then stay fixed); None trains those towers fully.
        contrast: ``softmax`` (CLIP), ``sigmoid`` (SigLIP) or ``auto`` (sigmoid when the model has a logit bias).
        optim: ``lr``, ``weight_decay``, ``warmup`` (:mod:`workbench.optim`: warm-up fraction + cosine).
        channels_last: keep the image tower's conv weights and the images in channels-last layout
            (about 30% less CPU a training step for the small ResNet of ``wb-text-resnet``).
        num_classes: number of classes (linked from the data).
        class_names: ``{language: [class name per label]}`` (linked from the data).
        system: system name for run tables; default ``vis-finetune[-head|-romanized]`` or,
            when evaluated without training, ``vis-zeroshot-<script>``.
        script: the prompts' and captions' script, ``native`` or ``romanized`` by uroman (linked from
            ``data.script``).
    """

    def __init__(
        self,
        model_name: str = "wb-tiny-bytes",
        pretrained: str | None = None,
        tokenizer: TokenizerName = "model",
        architecture: dict | None = None,
        context_length: int | None = None,
        aug_cfg: dict | None = None,
        loss: Loss = "captions",
        prompts: Prompts | None = None,
        freeze: list[Tower] | None = None,
        lora: LoraSettings | None = None,
        contrast: Contrast = "auto",
        optim: Optim | None = None,
        channels_last: bool = False,
        num_classes: int | None = None,
        class_names: dict[str, list[str]] | None = None,
        system: str | None = None,
        script: Script = "native",
    ):
        needs_names = "" if loss == "head" else "classification by prompts"
        super().__init__(loss, lora, optim, class_names, num_classes, needs_names)
        self.save_hyperparameters()
        self.prompt_cfg, self.script = prompts or Prompts(), script
        self.freeze = list(freeze or [])
        bundle = load_clip(model_name, pretrained, tokenizer, context_length, aug_cfg, architecture=architecture)
        self.clip = bundle.model
        self.preprocess_train, self.preprocess_val = bundle.preprocess_train, bundle.preprocess_val
        self.tokenizer = bundle.tokenizer
        self.model_cfg, self.preprocess_cfg = bundle.model_cfg, bundle.preprocess_cfg
        embed_dim = getattr(self.clip.visual, "output_dim", None) or (bundle.model_cfg or {}).get("embed_dim")
        self.head = nn.Linear(embed_dim, self.num_classes) if loss == "head" else None
        self.lora_towers = [t for t in ("image", "text") if t not in self.freeze] if lora is not None else []
        if self.lora_towers:
            add_lora(self.clip, self.lora_towers, lora)
        has_bias = getattr(self.clip, "logit_bias", None) is not None  # SigLIP architectures
        self.sigmoid = contrast == "sigmoid" or (contrast == "auto" and has_bias)
        self._set_trainable()
        self.channels_last = channels_last
        if channels_last:
            self.clip.visual.to(memory_format=torch.channels_last)
        self._prompt_cache: dict[str, torch.Tensor] = {}
        self.trained_steps = 0

    # -- set-up -------------------------------------------------------------------------
    def _set_trainable(self) -> None:
        towers_trained = {"image", "text"} - set(self.freeze)
        for name, param in self.clip.named_parameters():
            tower = tower_of(name)
            if tower == "shared":
                param.requires_grad = bool(towers_trained) and self.loss_name != "head"
            elif tower not in towers_trained:
                param.requires_grad = False
            elif tower in self.lora_towers:
                param.requires_grad = "lora_" in name
            else:
                param.requires_grad = True

    def prompt_texts(self, language: str) -> list[str]:
        """The class prompts of one language, in the configured script."""
        if language not in self.class_names:
            raise ConfigError(f"no class names for language '{language}' (have {sorted(self.class_names)})")
        template = self.prompt_cfg.templates.get(language, "{}")
        texts = [template.format(name) for name in self.class_names[language]]
        if self.script == "romanized":
            texts = [romanize(text, language) for text in texts]
        return texts

    def fitted_name(self, script: str) -> str:
        if self.loss_name == "head":
            return "vis-finetune-head"
        return "vis-finetune" if script == "native" else "vis-finetune-romanized"

    # -- embeddings and logits ----------------------------------------------------------
    def encode_text(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        """Texts (each of its language, for towers that mark it: NLLB) -> unit embeddings ``[n, D]``."""
        tokens = tokenize(self.tokenizer, texts, languages).to(self.device)
        return self.clip.encode_text(tokens, normalize=True)

    def prompt_features(self, language: str, cached: bool) -> torch.Tensor:
        """Unit embeddings ``[C, D]`` of one language's class prompts (cached during evaluation)."""
        if cached and language in self._prompt_cache:
            return self._prompt_cache[language]
        texts = self.prompt_texts(language)
        features = self.encode_text(texts, [language] * len(texts))
        if cached:
            self._prompt_cache[language] = features.detach()
        return features

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Images ``[B, 3, H, W]`` -> embeddings ``[B, D]`` (unit length when ``normalize``)."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.clip.encode_image(images, normalize=normalize)

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(height, width) the image tower reads (open_clip's ``visual.image_size``; PIXEL's too)."""
        size = getattr(self.clip.visual, "image_size", None)
        if size is None:
            return None
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))

    def logits(self, images: torch.Tensor, languages: list[str], cached: bool = True) -> torch.Tensor:
        """Images ``[B, 3, H, W]`` of the given languages -> class logits ``[B, C]``."""
        if self.head is not None:
            return self.head(self.encode_image(images))
        image = self.encode_image(images, normalize=True)
        out = image.new_empty(len(languages), self.num_classes)
        for language in sorted(set(languages)):
            rows = torch.tensor([i for i, lang in enumerate(languages) if lang == language], device=image.device)
            out[rows] = image[rows] @ self.prompt_features(language, cached).T
        return self.scaled(out)

    def scaled(self, cosines: torch.Tensor) -> torch.Tensor:
        """Cosine similarities -> logits: ``logit_scale.exp() * cos (+ logit_bias`` for SigLIP models)."""
        bias = getattr(self.clip, "logit_bias", None)
        logits = cosines * self.clip.logit_scale.exp()
        return logits if bias is None else logits + bias

    def pair_loss(self, logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        """SigLIP's sigmoid loss on ``[B, U]`` logits with a 0/1 ``positives`` matrix: each pair's
        ``-log sigmoid(+-logit)`` summed over the texts, averaged over the images (as ``SigLipLoss``)."""
        signs = 2 * positives - 1
        return -F.logsigmoid(signs * logits).sum() / logits.shape[0]

    def caption_loss(self, images: torch.Tensor, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        """Symmetric contrastive loss; identical texts are one text with several positive images."""
        unique = sorted(set(texts))
        language_of = dict(zip(texts, languages, strict=True)) if languages is not None else None
        target = torch.tensor([unique.index(t) for t in texts], device=images.device)  # [B]
        image = self.encode_image(images, normalize=True)  # [B, D]
        text = self.encode_text(unique, [language_of[t] for t in unique] if language_of else None)
        logits = self.scaled(image @ text.T)  # [B, U]
        if self.sigmoid:  # same-text images are all positives of that text
            return self.pair_loss(logits, F.one_hot(target, len(unique)).float())
        image_loss = F.cross_entropy(logits, target)
        positives = F.one_hot(target, len(unique)).T.float()  # [U, B]
        positives = positives / positives.sum(dim=1, keepdim=True)
        text_loss = -(positives * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
        return (image_loss + text_loss) / 2

    def batch_texts(self, batch: dict) -> list[str]:
        if self.script == "native":
            return batch["text"]
        return [
            rom or romanize(text, lang)
            for text, rom, lang in zip(batch["text"], batch["romanized"], batch["language"], strict=True)
        ]

    # -- steps --------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.loss_name == "captions":
            texts = self.batch_texts(batch)
            if not all(texts):
                raise ConfigError("model.loss=captions: some training items have no text")
            loss = self.caption_loss(batch["image"], texts, batch["language"])
        else:
            logits = self.logits(batch["image"], batch["language"], cached=False)
            if self.sigmoid and self.head is None:  # each class prompt a binary decision, as SigLIP was trained
                loss = self.pair_loss(logits, F.one_hot(batch["label"], self.num_classes).float())
            else:
                loss = F.cross_entropy(logits, batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        self.trained_steps += 1
        return loss

    def on_train_epoch_start(self) -> None:
        self._prompt_cache = {}

    def on_validation_epoch_start(self) -> None:
        self._prompt_cache = {}

    def on_predict_epoch_start(self) -> None:
        self._prompt_cache = {}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # what a demo needs to rebuild the exact preprocessing and prompts without the config
        checkpoint["open_clip"] = {
            "model_name": self.hparams.model_name,
            "model_cfg": self.model_cfg,
            "preprocess_cfg": self.preprocess_cfg,
            "tokenizer": self.hparams.tokenizer,
            "prompts": {lang: self.prompt_texts(lang) for lang in self.class_names},
        }
