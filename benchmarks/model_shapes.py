"""The pretrained models the shipped configs name, built at their real shape with random weights.

``configs/models.yaml`` owns the facts (architecture values, published parameter count, source);
this module builds each model from them through the real config classes (transformers' config
classes, openai-whisper's ``ModelDimensions``, open_clip's architecture JSON) without
downloading anything, counts its parameters, finds the names the configs use, and renders
``configs/MODELS.md``:

    python -m benchmarks.model_shapes            # the table with built vs published counts
    python -m benchmarks.model_shapes --write    # rewrite configs/MODELS.md from configs/models.yaml
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

import torch
import yaml

from workbench.model_table import TABLE, load_table, published_count

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
MODELS_MD = CONFIGS / "MODELS.md"
TOLERANCE = 0.01  # built vs published parameter count
# config keys whose string value names a pretrained model (the shipped configs' vocabulary)
NAME_KEYS = ("name_or_path", "model", "model_id")


# a folder in the repository or a run's output, not a hub id: a stand-in built or trained here
LOCAL_PREFIXES = ("configs/", "runs/", "./", "/")


# -- the names the configs use -------------------------------------------------------------------------------------
def _names_in(node, found: set[str]) -> None:
    if isinstance(node, dict):
        class_path = str(node.get("class_path", ""))
        args = node.get("init_args", {}) if isinstance(node.get("init_args"), dict) else {}
        if class_path.endswith("whisper_openai.WhisperEncoder") and isinstance(args.get("name"), str):
            found.add(args["name"])
        if isinstance(node.get("model_name"), str) and node.get("pretrained"):
            # open_clip names a model by architecture and tag; a PIXEL encoder by its hub id alone
            pixel = node["model_name"].startswith("hf-pixel:")
            found.add(node["model_name"] if pixel else f"{node['model_name']}/{node['pretrained']}")
        for key, value in node.items():
            if key in NAME_KEYS and isinstance(value, str):
                found.add(value)
            _names_in(value, found)
    elif isinstance(node, list):
        for value in node:
            _names_in(value, found)


def named_models(configs: Path = CONFIGS) -> dict[str, list[str]]:
    """``{model name: [config files naming it]}`` over every YAML under ``configs`` (this table excluded)."""
    named: dict[str, list[str]] = {}
    for path in sorted(configs.rglob("*.yaml")):
        if path == configs / TABLE.name:
            continue
        found: set[str] = set()
        _names_in(yaml.safe_load(path.read_text(encoding="utf-8")), found)
        for name in found:
            named.setdefault(name, []).append(path.relative_to(configs).as_posix())
    return {name: files for name, files in named.items() if not name.split(":")[-1].startswith(LOCAL_PREFIXES)}


# -- building ------------------------------------------------------------------------------------------------------
def hf_config(entry: dict):
    """The transformers config of an entry (its class's ``config_class`` filled with the published values)."""
    import transformers

    return getattr(transformers, entry["class"]).config_class(**entry["config"])


def save_text_tower(config: dict, folder: Path) -> str:
    """An HF text tower's ``config.json`` where open_clip's ``AutoConfig.from_pretrained`` reads it."""
    from transformers import CONFIG_MAPPING, AutoConfig

    values = dict(config)
    model_type = values.pop("model_type", "xlm-roberta")
    CONFIG_MAPPING[model_type](**values).save_pretrained(folder)
    AutoConfig.from_pretrained(folder)  # fails here, not inside open_clip, if the folder is unreadable
    return str(folder)


def open_clip_architecture(name: str, entry: dict, folder: Path) -> dict:
    """open_clip's published architecture for ``name`` (``arch/tag``), its HF text tower read from ``folder``."""
    import open_clip

    architecture = json.loads(json.dumps(open_clip.get_model_config(name.split("/")[0])))
    if "text_tower" in entry:
        architecture["text_cfg"]["hf_model_name"] = save_text_tower(entry["text_tower"], folder)
        architecture["text_cfg"]["hf_model_pretrained"] = False  # random weights from the config
    return architecture


def build(name: str, entry: dict, folder: Path | None = None) -> torch.nn.Module:
    """The model ``name`` with random weights on the current default device (``torch.device("meta")``: no memory)."""
    if entry["builder"] == "transformers":
        import transformers

        return getattr(transformers, entry["class"])(hf_config(entry))
    if entry["builder"] == "openai-whisper":
        from whisper.model import AudioEncoder, ModelDimensions, TextDecoder, Whisper

        d = ModelDimensions(**entry["config"])
        if torch.empty(0).device.type == "meta":  # Whisper's sparse alignment-heads buffer has no meta kernel
            return torch.nn.ModuleDict({
                "encoder": AudioEncoder(d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer),
                "decoder": TextDecoder(d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer),
            })  # fmt: skip
        return Whisper(d)
    if entry["builder"] == "open_clip":
        import open_clip

        with contextlib.ExitStack() as stack:
            if folder is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            architecture = open_clip_architecture(name, entry, folder)
            # open_clip.create_model's choice: a tower of its own or from transformers -> CustomTextCLIP
            custom = architecture.pop("custom_text", False) or "hf_model_name" in architecture["text_cfg"]
            return (open_clip.CustomTextCLIP if custom else open_clip.CLIP)(**architecture)
    raise ValueError(f"configs/models.yaml: {name}: unknown builder '{entry['builder']}'")


def save_speech_encoder(name: str, folder: Path) -> str:
    """``name`` with random weights of its published shape, saved (with its family's feature extractor)
    where :class:`speech.encoders.hf.HFEncoder` reads it; the base model only (heads dropped)."""
    import transformers as tf

    model = build(name, load_table()[name])
    model = getattr(model, model.base_model_prefix, model)
    model.save_pretrained(folder)
    config = model.config
    if config.model_type == "whisper":
        extractor = tf.WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    elif config.model_type == "wav2vec2-bert":
        extractor = tf.SeamlessM4TFeatureExtractor()
    else:
        extractor = tf.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    extractor.save_pretrained(folder)
    return str(folder)


def stored_count(model: torch.nn.Module) -> int:
    """What a checkpoint of ``model`` stores: parameters (tied ones once) and persistent buffers.

    Hub pages count the checkpoint's tensors; openai-whisper keeps its encoder's sinusoidal
    positions as a (saved) buffer where transformers makes them a parameter.
    """
    saved = model.state_dict(keep_vars=True).keys()
    buffers = sum(b.numel() for name, b in model.named_buffers() if name in saved)
    return sum(p.numel() for p in model.parameters()) + buffers


def built_count(name: str, entry: dict) -> int:
    """Stored tensors' size of the model built from the table on the meta device (no weights allocated)."""
    with torch.device("meta"):
        model = build(name, entry)
    return stored_count(model)


# -- the markdown table --------------------------------------------------------------------------------------------
def _open_clip_towers(name: str, entry: dict) -> tuple[str, str, str, str]:
    import open_clip

    vision, text = (open_clip.get_model_config(name.split("/")[0])[k] for k in ("vision_cfg", "text_cfg"))
    tower = entry.get("text_tower") or {}
    if "timm_model_name" in vision:
        v_layers, v_width, v_heads = f"timm {vision['timm_model_name']}", "timm", "timm"
    else:
        v_layers, v_width = vision["layers"], vision["width"]
        v_heads = v_width // vision.get("head_width", 64)
    t_layers = tower.get("num_hidden_layers") or tower.get("encoder_layers") or text.get("layers")
    t_width = tower.get("hidden_size") or tower.get("d_model") or text.get("width")
    t_heads = tower.get("num_attention_heads") or tower.get("encoder_attention_heads") or text.get("heads")
    vocab = tower.get("vocab_size") or text.get("vocab_size")
    return f"{v_layers} image + {t_layers} text", f"{v_width} / {t_width}", f"{v_heads} / {t_heads}", str(vocab)


def architecture(name: str, entry: dict) -> tuple[str, str, str, str]:
    """``(layers, width, heads, vocabulary)`` as published, read from the entry's values."""
    c = entry.get("config") or {}
    if entry["builder"] == "open_clip":
        return _open_clip_towers(name, entry)
    if entry["builder"] == "openai-whisper":
        layers, width, heads, vocab = "n_audio_layer", "n_audio_state", "n_audio_head", "n_vocab"
        return f"{c[layers]}+{c['n_text_layer']}", str(c[width]), str(c[heads]), str(c[vocab])
    if "audio_config" in c:
        t, a = c["text_config"], c["audio_config"]
        return (
            f"{a['encoder_layers']} audio + {t['num_hidden_layers']} text",
            f"{a['d_model']} / {t['hidden_size']}",
            f"{a['encoder_attention_heads']} / {t['num_attention_heads']}",
            str(t["vocab_size"]),
        )
    if "text_config" in c:  # a VLM: Qwen2-VL's vision names (depth, embed_dim, num_heads) or a ViT's (SigLIP's)
        t, v = c["text_config"], c["vision_config"]
        v_layers, v_heads = v.get("depth", v.get("num_hidden_layers")), v.get("num_heads", v.get("num_attention_heads"))
        v_width = v.get("embed_dim", v.get("hidden_size"))  # Qwen2-VL's hidden_size is its merger's output
        return (
            f"{v_layers} image + {t['num_hidden_layers']} text",
            f"{v_width} / {t['hidden_size']}",
            f"{v_heads} / {t['num_attention_heads']}",
            str(t["vocab_size"]),
        )
    if "d_model" in c:
        layers = f"{c['encoder_layers']}+{c['decoder_layers']}"
        return layers, str(c["d_model"]), str(c["encoder_attention_heads"]), str(c["vocab_size"])
    vocab = str(c.get("vocab_size", "-"))
    return str(c["num_hidden_layers"]), str(c["hidden_size"]), str(c["num_attention_heads"]), vocab


def render(table: dict[str, dict], named: dict[str, list[str]], counts: dict[str, int] | None = None) -> str:
    """The markdown of ``configs/MODELS.md`` (built counts only when ``counts`` is given)."""
    lines = [
        "# Pretrained models named by the shipped configs",
        "",
        "Rendered from `configs/models.yaml` (the one place these numbers live) by",
        "`python -m benchmarks.model_shapes --write`; `tests/test_real_shape.py` checks that every model a",
        "config names is listed, that this file matches the YAML, and that each model built with random weights",
        "from these values (no download) has its published parameter count within 1 %. Step time and memory of",
        "one real training step per model: `benchmarks/README.md` (real-shape models).",
        "",
        "| name | built as | layers | width | heads | vocabulary | parameters (published) | step | named by | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in table.items():
        layers, width, heads, vocab = architecture(name, entry)
        built_as = entry.get("class") or entry["builder"]
        used = ", ".join(f"`{p}`" for p in named.get(name, []))
        count = entry["params"] + (f" (built {counts[name] / 1e6:.1f}M)" if counts else "")
        cells = [f"`{name}`", built_as, layers, width, heads, vocab, count, entry["step"], used, entry["source"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite configs/MODELS.md from configs/models.yaml")
    args = parser.parse_args(argv)
    table, named = load_table(), named_models()
    if args.write:
        MODELS_MD.write_text(render(table, named), encoding="utf-8")
        print(f"wrote {MODELS_MD.relative_to(REPO)}")
        return
    for name, entry in table.items():
        built, published = built_count(name, entry), published_count(entry["params"])
        print(f"{name:45s} published {entry['params']:>8s} built {built / 1e6:9.2f}M ({built / published - 1:+.2%})")


if __name__ == "__main__":
    main()
