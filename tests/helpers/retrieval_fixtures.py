"""A local XM3600 replica (floschne/xm3600's parquet schema) and a tiny NLLB-CLIP for the retrieval tests."""

from __future__ import annotations

import io
from pathlib import Path

from tests.helpers.hub_replicas import VALUE, parquet_bytes

XM_CAPTIONS = {  # two captions an image, as XM3600 has one to several
    "en": [("a red square", "a square in red"), ("a blue circle", "blue round shape"), ("green bars", "a green bar")],
    "ru": [("красный квадрат", "квадрат"), ("синий круг", "круг синего цвета"), ("зелёные полосы", "полоса")],
}
XM_FEATURES = {
    "image_id": VALUE,
    "image_locale": VALUE,
    "captions": {"feature": VALUE, "_type": "List"},
    "captions_tokenized": {"feature": VALUE, "_type": "List"},
    "captions_tokenized_lowercase": {"feature": VALUE, "_type": "List"},
    "image": {"bytes": {"dtype": "binary", "_type": "Value"}, "path": {"dtype": "null", "_type": "Value"}},
}


def png(index: int) -> bytes:
    from PIL import Image

    colours = [(200, 30, 30), (30, 30, 200), (30, 160, 30), (120, 120, 0)]
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colours[index % len(colours)]).save(buffer, format="PNG")
    return buffer.getvalue()


def xm3600_replica(folder: Path, copies: int = 2) -> Path:
    """``data/<lang>-00000-of-00001.parquet`` per language, ``copies`` x 3 images each (ids shared across languages)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for language, captions in XM_CAPTIONS.items():
        rows = [(f"{c:02d}{i:014x}", list(texts)) for c in range(copies) for i, texts in enumerate(captions)]
        rows = [(image_id, [f"{t} {image_id[:2]}" for t in texts]) for image_id, texts in rows]
        columns = {
            "image_id": [r[0] for r in rows],
            "image_locale": [language] * len(rows),
            "captions": [r[1] for r in rows],
            "captions_tokenized": [r[1] for r in rows],
            "captions_tokenized_lowercase": [[t.lower() for t in r[1]] for r in rows],
            "image": [{"bytes": png(n), "path": None} for n in range(len(rows))],  # struct<bytes, path: null>
        }
        target = folder / "data" / f"{language}-00000-of-00001.parquet"
        target.write_bytes(parquet_bytes(columns, XM_FEATURES))
    return folder


def tiny_nllb_architecture(folder: Path, texts: list[str]) -> dict:
    """open_clip's ``nllb-clip-base`` architecture with a tiny NLLB (M2M-100) tower and tokenizer saved in ``folder``.

    The real one (model_configs/nllb-clip-base.json): ``facebook/nllb-200-distilled-600M``, whose encoder
    open_clip keeps (``is_encoder_decoder``), ``cls_pooler`` and a linear projection.
    """
    import open_clip
    from transformers import M2M100Config, M2M100Model, NllbTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "▁": 4}
    for char in sorted(set("".join(texts).replace(" ", ""))):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(f"▁{char}", len(vocab))
    tokenizer = NllbTokenizer(vocab=vocab, merges=[])
    tokenizer.save_pretrained(folder)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=1, scale_embedding=True,
    )  # fmt: skip
    M2M100Model(config).save_pretrained(folder)
    real = open_clip.get_model_config("nllb-clip-base")
    text_cfg = {
        **real["text_cfg"],
        "hf_model_name": str(folder),
        "hf_tokenizer_name": str(folder),
        "context_length": 24,
    }
    vision_cfg = {"image_size": 16, "layers": 1, "width": 16, "patch_size": 8, "head_width": 8}
    return {"embed_dim": 16, "vision_cfg": vision_cfg, "text_cfg": text_cfg}
