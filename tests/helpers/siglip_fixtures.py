"""A tiny random stand-in of open_clip's ``ViT-B-16-SigLIP-i18n-256``, saved as a ``local-dir:`` folder.

The real model (``hf-hub:timm/ViT-B-16-SigLIP-i18n-256``, tag ``webli``) is open_clip's
``model_configs/ViT-B-16-SigLIP-i18n-256.json``: a timm ``vit_base_patch16_siglip_256``
image tower (no class token, MAP pooling, no projection), open_clip's text transformer
(no causal mask, last-token pooling, projection bias), ``init_logit_bias -10`` and a
250k-piece multilingual sentencepiece tokenizer loaded by ``HFTokenizer`` with
``clean: canonicalize``. The stand-in keeps every one of those choices and only shrinks
the sizes: the same timm builder with ``embed_dim 32, depth 2, heads 2, 32 px``, a 2-layer
32-wide text tower, and a sentencepiece-style Unigram tokenizer trained here on the class
names it will see (so Thai, Georgian and Devanagari are pieces, not unknowns).
"""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import timm
import torch
from timm.models import register_model

REAL = "ViT-B-16-SigLIP-i18n-256"
TINY_TIMM = "wb_tiny_patch16_siglip_32"
SIZE = 32  # px


if TINY_TIMM not in timm.list_models():

    @register_model
    def wb_tiny_patch16_siglip_32(pretrained: bool = False, **kwargs):
        """timm's own SigLIP ViT builder (no class token, MAP pooling), scaled down."""
        from timm.models.vision_transformer import vit_base_patch16_siglip_256

        return vit_base_patch16_siglip_256(pretrained, embed_dim=32, depth=2, num_heads=2, img_size=SIZE, **kwargs)


def tiny_sentencepiece(folder: Path, texts: list[str], vocab_size: int = 300) -> int:
    """A Unigram (sentencepiece) tokenizer trained on ``texts``, saved for ``AutoTokenizer``; returns its size.

    Like the real mc4 sentencepiece: ``</s>`` appended to every text, ``<pad>`` id 0.
    """
    from tokenizers import processors
    from tokenizers.implementations import SentencePieceUnigramTokenizer
    from transformers import PreTrainedTokenizerFast

    spm = SentencePieceUnigramTokenizer()
    spm.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    inner = spm._tokenizer
    inner.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=inner, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    return len(tokenizer)


def tiny_siglip_config(vocab_size: int) -> dict:
    """The real architecture dict with every size scaled down (see the module docstring)."""
    real = open_clip.get_model_config(REAL)
    vision = {**real["vision_cfg"], "image_size": SIZE, "timm_model_name": TINY_TIMM}
    text = {**real["text_cfg"], "context_length": 16, "vocab_size": vocab_size, "width": 32, "heads": 2, "layers": 2}
    return {**real, "embed_dim": 32, "vision_cfg": vision, "text_cfg": text}


def save_tiny_siglip(folder: Path, texts: list[str]) -> str:
    """Write the stand-in (config, random weights, tokenizer); returns ``local-dir:<folder>``."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_sentencepiece(folder, texts)
    config = tiny_siglip_config(vocab)
    torch.manual_seed(0)
    model = open_clip.CustomTextCLIP(**{k: v for k, v in config.items() if k != "custom_text"})
    pretrained = open_clip.get_pretrained_cfg(REAL, "webli")  # the real preprocessing, at the small size
    preprocess = {key: pretrained[key] for key in ("mean", "std", "interpolation", "resize_mode")}
    meta = {"model_cfg": config, "preprocess_cfg": {**preprocess, "size": SIZE}}
    (folder / "open_clip_config.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return f"local-dir:{folder}"
