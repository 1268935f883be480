"""open_clip models by name: architecture + pretrained tag, a local checkpoint, or a small config.

Everything goes through ``open_clip.create_model_and_transforms``, so the image transforms
always come from the model (its ``preprocess_cfg``: size, mean, std, interpolation) and
training, evaluation and the demo cannot disagree. The architectures of this package
(``vision/model_configs/*.json``, e.g. ``wb-tiny-bytes``) are registered with open_clip on
import, next to its own (``ViT-B-32``, ``xlm-roberta-base-ViT-B-32``, ``nllb-clip-base``...).

Names accepted by :func:`load_clip`:

- ``model_name="xlm-roberta-base-ViT-B-32", pretrained="laion5b_s13b_b90k"``: a pretrained tag.
- ``model_name="ViT-B-32", pretrained="/path/weights.pt"``: a local checkpoint file.
- ``model_name="local-dir:/path"``: a folder with ``open_clip_config.json`` + weights.
- ``model_name="wb-tiny-bytes", pretrained=None``: a small architecture, trained from scratch.
- ``model_name="hf-pixel:Team-PIXEL/pixel-base", pretrained="weights"``: a PIXEL encoder through
  transformers' ViT-MAE (:mod:`vision.pixel`); ``architecture`` gives its ``image_size`` and ``embed_dim``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Literal

import open_clip
import torch

from vision.bundle import PIXEL_PREFIX, ByteTokenizer, ClipBundle
from vision.pixel import load_pixel
from workbench.errors import ConfigError

MODEL_CONFIGS = Path(__file__).parent / "model_configs"
open_clip.add_model_config(MODEL_CONFIGS)

TokenizerName = Literal["model", "bytes"]


def register_config(name: str, config: dict) -> None:
    """Register an architecture given as a dict (e.g. inline in YAML) under ``name``."""
    folder = Path(tempfile.mkdtemp(prefix="wb-open-clip-"))
    (folder / f"{name}.json").write_text(json.dumps(config), encoding="utf-8")
    open_clip.add_model_config(folder)


def model_config(model_name: str) -> dict | None:
    """The architecture dict of a registered name or a ``local-dir:`` folder (None for ``hf-hub:``)."""
    if model_name.startswith("local-dir:"):
        path = Path(model_name.removeprefix("local-dir:")) / "open_clip_config.json"
        return json.loads(path.read_text(encoding="utf-8")).get("model_cfg") if path.is_file() else None
    return open_clip.get_model_config(model_name) if ":" not in model_name else None


def make_tokenizer(model_name: str, kind: TokenizerName, context_length: int | None, cfg: dict | None):
    """The model's own tokenizer (open_clip BPE or the HF tokenizer of its text tower) or bytes."""
    if kind == "bytes":
        text_cfg = (cfg or {}).get("text_cfg", {})
        vocab = text_cfg.get("vocab_size")
        if vocab is not None and vocab < ByteTokenizer.VOCAB_SIZE:
            raise ConfigError(
                f"model.tokenizer: 'bytes' needs text_cfg.vocab_size >= {ByteTokenizer.VOCAB_SIZE}, "
                f"'{model_name}' has {vocab}"
            )
        return ByteTokenizer(context_length or text_cfg.get("context_length", 32))
    return open_clip.get_tokenizer(model_name, context_length=context_length)


def load_clip(
    model_name: str,
    pretrained: str | None = None,
    tokenizer: TokenizerName = "model",
    context_length: int | None = None,
    aug_cfg: dict | None = None,
    cache_dir: str | None = None,
    architecture: dict | None = None,
) -> ClipBundle:
    """Build an open_clip model and everything that must agree with it.

    Args:
        model_name: architecture name, ``local-dir:<folder>`` or ``hf-hub:<id>``.
        pretrained: open_clip pretrained tag or a checkpoint file; None trains from scratch.
        tokenizer: ``model`` (its own) or ``bytes`` (:class:`ByteTokenizer`, small towers).
        context_length: overrides the text context length (tokens).
        aug_cfg: open_clip training augmentation config (``scale``, ``color_jitter``...).
        cache_dir: where open_clip keeps downloaded weights.
        architecture: an architecture dict registered under ``model_name`` first (for ``hf-pixel:``
            names: ``{"image_size": [h, w], "embed_dim": n}``).
    """
    if model_name.startswith(PIXEL_PREFIX):  # not an open_clip model: transformers' ViT-MAE (vision.pixel)
        shape = {"image_size": (64, 128), "embed_dim": 64, **(architecture or {})}
        return load_pixel(model_name, pretrained, aug_cfg, shape["image_size"], shape["embed_dim"])
    if architecture is not None:
        register_config(model_name, architecture)
    if ":" not in model_name and model_name not in open_clip.list_models():
        raise ConfigError(f"model.model_name: unknown open_clip architecture '{model_name}'")
    if pretrained and not Path(pretrained).is_file():
        tags = open_clip.list_pretrained_tags_by_model(model_name) if ":" not in model_name else []
        if pretrained not in tags:
            raise ConfigError(
                f"model.pretrained: '{pretrained}' is neither a file nor a tag of '{model_name}' (tags: {tags})"
            )
    cfg = model_config(model_name)
    size = ((cfg or {}).get("vision_cfg") or {}).get("image_size")
    model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
        model_name,
        pretrained=pretrained,
        # a JSON [height, width] given back as a tuple: open_clip's timm augmentation adds it to one
        force_image_size=tuple(size) if isinstance(size, list) else None,
        force_context_length=context_length,
        aug_cfg=aug_cfg,
        cache_dir=cache_dir,
        weights_only=True,  # a pretrained file is read as tensors only, never unpickled objects
    )
    return ClipBundle(
        model=model,
        preprocess_train=preprocess_train,
        preprocess_val=preprocess_val,
        tokenizer=make_tokenizer(model_name, tokenizer, context_length, cfg),
        model_cfg=cfg,
        preprocess_cfg=dict(open_clip.get_model_preprocess_cfg(model)),
    )


def tower_of(parameter_name: str) -> str:
    """``image``, ``text`` or ``shared`` (logit scale/bias) for a CLIP parameter name."""
    if parameter_name.startswith("visual."):
        return "image"
    if parameter_name.split(".")[0] in ("logit_scale", "logit_bias"):
        return "shared"
    return "text"


def save_local_dir(bundle: ClipBundle, folder: str | Path, state_dict: dict | None = None) -> Path:
    """Write ``open_clip_config.json`` + weights, loadable as ``model_name="local-dir:<folder>"``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if bundle.model_cfg is None:
        raise ConfigError("save_local_dir: the model has no registered architecture dict to save")
    config = {"model_cfg": bundle.model_cfg, "preprocess_cfg": bundle.preprocess_cfg}
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    torch.save(state_dict or bundle.model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder
