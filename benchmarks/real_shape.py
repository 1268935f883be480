"""One real step of the real program for each pretrained model at its published shape, on CPU.

    python -m benchmarks.real_shape [NAME ...] [--precision P] [--threads N] [--out FILE]
    python -m benchmarks.real_shape --table FILE ...   # the table of saved --out files

For each model of ``configs/models.yaml`` (all, or the ``NAME``s given), two fresh processes:

1. ``--build``: the model with random weights of its published shape
   (:mod:`benchmarks.model_shapes`), saved where the program's loader reads it;
2. ``--step``: the program (``speech.fit`` / ``cascade.fit`` / ``vision.fit`` / ``vision.fit_vlm``)
   through its own CLI, from the shipped config that names the model (over its program's base), the
   pretrained name swapped for the saved folder, SpeechTaxi for the tiny embedded corpus, the trainer
   on CPU at the shipped precision (bf16-mixed autocast runs on CPU; ``--precision 32-true`` where the
   CPU has no native bf16, ``--threads N`` for torch's threads), one training step (``--trainer.max_steps=1``), then
   the program's own evaluation. The step's wall time (:class:`StepClock`, a Lightning callback
   given on the command line) and the process's peak RSS (``getrusage``) are reported, with the
   GPU memory estimated for the shipped batch (:func:`gpu_memory_gb`).

Recognizers and the translator run inference inside ``cascade.fit`` (a small stand-in classifier);
the VLM and the LLM classifier one LoRA step without their evaluation (``--test false``: 6 answers
scored an item). ``--list`` names every model with a plan: all but those over :data:`STEP_MAX_PARAMS`
(the 8.4 B speech LLM, the 8.06 B Centurio), whose counts are checked on the meta device only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L

from benchmarks.model_shapes import REPO, load_table, named_models, published_count, save_speech_encoder

SPEECH_BASE = "speechtaxi.yaml"
CASCADE_BASE = "cascade/speechtaxi.yaml"
# the program of a model named by a config of these folders (over that program's SpeechTaxi base)
PROGRAM = {"encoder": "speech.fit", "speech": "speech.fit", "classifier": "cascade.fit", "cascade": "cascade.fit"}
PROGRAM |= {"recognizer": "cascade.fit", "vision": "vision.fit", "embedded/vision_text": "vision.fit"}
PROGRAM |= {"translator": "cascade.fit"}
PROGRAM |= {"vision/qwen2_vl.yaml": "vision.fit_vlm"}  # a whole config of its own program (its header)
# a CPU step only up to this published size (the 2.5 B): the 7-8 B models need more than this machine's
# 24 GB in fp32, and run on a GPU
STEP_MAX_PARAMS = 2.5e9
BASE = {"speech.fit": SPEECH_BASE, "cascade.fit": CASCADE_BASE, "vision.fit": "vision/cifar10_xlmr.yaml"}
BASE |= {"embedded/vision_text": "embedded/vision_text.yaml", "vision.fit_vlm": "vision/qwen2_vl.yaml"}
# where the model's name goes on the command line: by program and step (configs/models.yaml)
ARGUMENT = {
    ("speech.fit", "train"): "--model.encoder.init_args.name_or_path",
    ("cascade.fit", "train"): "--model.model.init_args.model",
    ("cascade.fit", "recognize"): "--data.recognizer.init_args.model",
    ("cascade.fit", "lora"): "--model.model.init_args.model",  # the LLM classifier (classifier/qwen_lora.yaml)
    ("cascade.fit", "translate"): "--data.translator.init_args.model",
    ("vision.fit", "lora"): "--model.pretrained",  # a weights file of the architecture given with it
    ("vision.fit", "train"): "--model.model_name",  # a PIXEL encoder over the embedded text images
    ("vision.fit_vlm", "lora"): "--model.model_id",
}
OPEN_CLIP_NAME = "real-shape"  # the architecture registered from the saved one (vision.model.load_clip)
# the shipped batches the GPU memory is estimated for: 160 s of audio (50 encoder frames a second,
# speechtaxi.yaml max_batch_seconds) and 32 texts of 128 tokens (cascade/speechtaxi.yaml)
SHIPPED_TOKENS = {"speech.fit": 160 * 50, "cascade.fit": 32 * 128}
# PIXEL reads pixels: a text is one line of 529 patches (vision.pixel_text), an embedded text image 4 x 8
# patches (embedded/vision_text/pixel.yaml), 32 a batch; Qwen2-VL (vision/qwen2_vl.yaml): 8 a batch of a
# 224 px image (64 tokens after its 2x2 merge) and about 40 tokens of question and answer
PIXEL_TOKENS = {"cascade.fit": 32 * 529, "vision.fit": 32 * 4 * 8}
VLM_TOKENS = 8 * (64 + 40)
# the LLM classifier (classifier/qwen_lora.yaml): 32 texts a batch, prompts of about 128 tokens (its max_length:
# 256) read once, then each of the 6 class answers (about 4 tokens each) after each prompt
LLM_TOKENS = 32 * (128 + 6 * 4)


class StepClock(L.Callback):
    """Writes the wall seconds of each training step, and the process's peak RSS (GB) at the end of the
    first (before any checkpoint: Lightning runs checkpoint callbacks after the others), to ``out``
    (JSON) when training ends."""

    def __init__(self, out: str):
        self.out, self.seconds, self.started, self.step_peak_rss_gb = out, [], 0.0, None

    def on_train_batch_start(self, trainer, *_) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, *_) -> None:
        self.seconds.append(time.perf_counter() - self.started)
        if self.step_peak_rss_gb is None:
            self.step_peak_rss_gb = peak_rss_gb()

    def on_train_end(self, trainer, *_) -> None:
        Path(self.out).write_text(json.dumps({"seconds": self.seconds, "step_peak_rss_gb": self.step_peak_rss_gb}))


def peak_rss_gb() -> float:
    """This process's high-water RSS so far (``getrusage``; KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def plan(name: str) -> tuple[str, list[str], str]:
    """``(program, -c arguments, model argument)`` from the first shipped config naming ``name``.

    A recognizer runs over the cascade base as shipped unless a recognizer overlay names it.
    """
    entry = load_table()[name]
    if published_count(entry["params"]) > STEP_MAX_PARAMS:
        raise KeyError(f"{name}: {entry['params']} parameters, over the {STEP_MAX_PARAMS / 1e9:g} B of a CPU step")
    configs = named_models()[name]
    for config in sorted(configs, key=lambda c: not c.startswith("recognizer/whisper.yaml")):
        folder = config.rsplit("/", 1)[0]
        program = PROGRAM.get(config) or PROGRAM.get(folder)
        if program is None or (program, entry["step"]) not in ARGUMENT:
            continue
        base = BASE.get(folder) or BASE[program]
        argument = ARGUMENT[program, entry["step"]]
        if entry["builder"] == "openai-whisper" and program == "speech.fit":
            argument = "--model.encoder.init_args.name"  # configs/encoder/whisper_openai.yaml
        return program, [base] + ([config] if config != base else []), argument
    raise KeyError(f"{name}: no config of {sorted(set(PROGRAM.values()))} names it (step: {entry['step']})")


def steppable() -> list[str]:
    """Models with a real step here: trained by speech.fit or cascade.fit, or the cascade's recognizers."""
    return [name for name in load_table() if _has_plan(name)]


def _has_plan(name: str) -> bool:
    try:
        plan(name)
        return True
    except KeyError:
        return False


def save_ctc_recognizer(name: str, entry: dict, folder: Path) -> str:
    """An MMS recognizer folder: the real-shape Wav2Vec2ForCTC, its processor files and, for MMS-1b-all,
    a nested vocab.json and an English adapter with the model's vocabulary size (tests/test_mms.py's layout)."""
    from safetensors.torch import save_file

    from benchmarks.model_shapes import build
    from tests.helpers.cascade_testing import SPECIALS, ZEROSHOT_TOKENS, write_processor_files

    folder.mkdir(parents=True, exist_ok=True)
    model = build(name, entry)
    size = entry["config"]["vocab_size"]
    if entry["config"].get("adapter_attn_dim"):
        tokens = ["<s>", "<pad>", "</s>", "<unk>", "|"]
        tokens += [chr(0x61 + i) if i < 26 else chr(0x400 + i) for i in range(size - len(tokens))]
        (folder / "vocab.json").write_text(json.dumps({"eng": {t: i for i, t in enumerate(tokens)}}))
        write_processor_files(folder, target_lang="eng")
        save_file({k: v.contiguous() for k, v in model._get_adapters().items()}, folder / "adapter.eng.safetensors")
    else:
        assert len(ZEROSHOT_TOKENS) == size and SPECIALS
        (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(ZEROSHOT_TOKENS)}))
        write_processor_files(folder, target_lang=None)
    model.save_pretrained(folder)
    return str(folder)


def save_open_clip(name: str, entry: dict, folder: Path) -> str:
    """open_clip's architecture with its text tower's published config (a small tokenizer: ids within its
    vocabulary), random weights saved through the program's own loader, and a tiny CIFAR-shaped dataset."""
    import torch

    from benchmarks.model_shapes import open_clip_architecture
    from tests.helpers.vision_fixtures import save_tiny_image_dataset, tiny_hf_text_architecture
    from vision.model import load_clip

    architecture = open_clip_architecture(name, entry, folder / "text")
    architecture["text_cfg"]["hf_tokenizer_name"] = tiny_hf_text_architecture(folder / "tokenizer")["text_cfg"][
        "hf_tokenizer_name"
    ]
    architecture["text_cfg"].pop("tokenizer_kwargs", None)  # SigLIP's text cleaning is its own tokenizer's
    if "text_tower" in entry:  # open_clip builds an untrained model's HF tower from_pretrained: random weights there
        from transformers import AutoConfig, AutoModel

        AutoModel.from_config(AutoConfig.from_pretrained(folder / "text")).save_pretrained(folder / "text")
    (folder / "architecture.json").write_text(json.dumps(architecture))
    torch.save(load_clip(OPEN_CLIP_NAME, architecture=architecture).model.state_dict(), folder / "weights.pt")
    save_tiny_image_dataset(folder / "images", per_split=20)
    return str(folder / "weights.pt")


def save_qwen2_vl(name: str, entry: dict, folder: Path) -> str:
    """Qwen2-VL at its published shape, random bf16 weights (as the hub ships them: 4.4 GB), with Qwen2-VL's
    processor over a small byte-level BPE trained on the config's questions and answers (ids within its
    vocabulary; the special tokens' ids written into the config)."""
    import torch
    import yaml
    from transformers import Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    from benchmarks.model_shapes import hf_config
    from tests.helpers.vlm_fixtures import CHAT_TEMPLATE, CLIP_MEAN, CLIP_STD, SPECIAL, tiny_qwen_tokenizer

    shipped = yaml.safe_load((REPO / "configs" / BASE["vision.fit_vlm"]).read_text(encoding="utf-8"))["model"]
    texts = list(shipped["prompts"]["texts"].values()) + [a for names in shipped["answers"].values() for a in names]
    tokenizer = tiny_qwen_tokenizer(texts * 4)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    config = hf_config(entry)
    config.image_token_id, config.video_token_id = ids["<|image_pad|>"], ids["<|video_pad|>"]
    config.vision_start_token_id, config.vision_end_token_id = ids["<|vision_start|>"], ids["<|vision_end|>"]
    for part in (config, config.text_config):
        part.bos_token_id, part.pad_token_id, part.eos_token_id = (
            ids["<|endoftext|>"],
            ids["<|endoftext|>"],
            ids["<|im_end|>"],
        )
    torch.set_default_dtype(torch.bfloat16)  # built in bf16: 4.4 GB, not 8.8
    Qwen2VLForConditionalGeneration(config).save_pretrained(folder)
    images = Qwen2VLImageProcessor(image_mean=CLIP_MEAN, image_std=CLIP_STD)  # its default sizes: 224 px fits
    Qwen2VLProcessor(images, tokenizer, Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE).save_pretrained(folder)
    return str(folder)


def save_causal_lm(name: str, entry: dict, folder: Path) -> str:
    """The LLM classifier's model at its published shape, random bf16 weights (as the hub ships them), with
    Qwen's tokenizer kind and chat template over a small vocabulary (ids within its own)."""
    import torch
    from transformers import AutoTokenizer

    from benchmarks.model_shapes import build
    from tests.helpers.text_systems_testing import tiny_causal_lm

    tiny_causal_lm(folder, ["a few words to train a tokenizer on"] * 4)  # its tiny model is replaced below
    tokenizer = AutoTokenizer.from_pretrained(folder)
    torch.set_default_dtype(torch.bfloat16)
    model = build(name, entry)
    model.config.eos_token_id, model.config.pad_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id
    model.save_pretrained(folder)
    return str(folder)


def save_translator(name: str, entry: dict, folder: Path) -> str:
    """NLLB at its published shape, random weights, with an NllbTokenizer over the Latin and Cyrillic
    letters (and the 202 FLORES language tokens) and the tiny stand-in's generation settings."""
    from transformers import GenerationConfig

    from benchmarks.model_shapes import build
    from tests.helpers.text_systems_testing import tiny_nllb

    letters = "abcdefghijklmnopqrstuvwxyz" + "".join(chr(c) for c in range(0x430, 0x450))
    tiny_nllb(folder, [letters, letters.upper()])  # its tiny model is replaced below
    model = build(name, entry)
    model.generation_config = GenerationConfig.from_pretrained(folder)
    model.save_pretrained(folder)
    return str(folder)


def build_stand_in(name: str, folder: Path) -> str:
    """Save ``name`` at its published shape where its program reads it; returns what to pass."""
    import torch

    from benchmarks.model_shapes import build
    from tests.helpers.cascade_testing import tiny_text_classifier

    entry = load_table()[name]
    torch.manual_seed(0)
    program, _, _ = plan(name)
    if entry["step"] in ("recognize", "translate"):  # the cascade's classifier: a small stand-in
        tiny_text_classifier(folder / "classifier", ["a few words to train a tokenizer on"] * 4)
    if entry["builder"] == "openai-whisper":
        from tests.helpers.speech_stand_ins import random_whisper_checkpoint

        return str(random_whisper_checkpoint(folder / "whisper.pt", entry["config"], std=0.02))
    if entry["step"] == "recognize":
        return save_ctc_recognizer(name, entry, folder / "recognizer")
    if entry["builder"] == "open_clip":
        return save_open_clip(name, entry, folder)
    if program == "vision.fit_vlm":
        return save_qwen2_vl(name, entry, folder / "vlm")
    if entry["step"] == "translate":
        return save_translator(name, entry, folder / "translator")
    if entry["class"] == "Qwen2ForCausalLM":
        return save_causal_lm(name, entry, folder / "llm")
    if program == "speech.fit":
        return save_speech_encoder(name, folder)
    if entry["class"] == "ViTMAEModel":  # a PIXEL encoder: the rendered-text classifier reads it, no tokenizer
        build(name, entry).save_pretrained(folder)
        return f"hf-pixel:{folder}"
    # a text classifier: its real-shape weights and a small tokenizer (ids within its vocabulary)
    kind = "bert" if entry["class"].startswith("Bert") else "xlmr"
    tiny_text_classifier(folder, ["a few words to train a tokenizer on"] * 4, kind=kind)
    model = build(name, entry)
    getattr(model, model.base_model_prefix).save_pretrained(folder)
    return str(folder)


def step_command(
    name: str, model: str, work: Path, data_root: Path, precision: str | None = None, threads: int | None = None
) -> list[str]:
    """The program's command line; ``precision`` / ``threads`` replace the shipped precision / the
    program's default threads when given."""
    program, configs, argument = plan(name)
    args = [sys.executable, "-m", program]
    for config in configs:
        args += ["-c", str(REPO / "configs" / config)]
    args += [
        f"{argument}={model}",
        "--trainer.accelerator=cpu",
        "--trainer.max_steps=1",
        "--trainer.max_epochs=1",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.callbacks+=benchmarks.real_shape.StepClock",
        f"--trainer.callbacks.out={work / 'steps.json'}",
        f"--run_dir={work / 'run'}",
        "--data.num_workers=0",
        "--data.batch_size=4",
    ]
    args += [f"--threads={threads}"] if threads else []
    # the shipped precision unless told (vision's shipped 16-mixed has no CPU autocast in Lightning: bf16-mixed)
    precision = precision or ("bf16-mixed" if program == "vision.fit" else None)
    args += [f"--trainer.precision={precision}"] if precision else []
    if program == "vision.fit_vlm":
        # its evaluation scores 6 answers an image (2 B parameters each) over every eval split: hours on a
        # CPU; the step and one dev batch are the measurement
        args += ["--test=false"] + ["--model.dtype=float32"] * (precision == "32-true")  # bf16 weights, fp32 math
    text_images = program == "vision.fit" and load_table()[name]["builder"] != "open_clip"  # PIXEL
    if text_images or program == "vision.fit_vlm":  # PIXEL, the VLM: the embedded text images
        return args + [
            f"--data.source.init_args.root={data_root}",
            "--data.source.init_args.tiny=true",
            "--data.source.init_args.languages=[eng]",
        ]
    if program == "vision.fit":
        return args + [
            f"--model.model_name={OPEN_CLIP_NAME}",
            f"--model.architecture={(work / 'architecture.json').read_text()}",
            f"--data.source.init_args.path={work / 'images'}",
            "--data.source.init_args.max_per_split=10",
            "--data.source.init_args.dev_fraction=0.2",
            f"--data.source.init_args.cache_dir={work / 'cache'}",
        ]
    args += [
        "--data.source=speech.sources.Embedded",
        f"--data.source.init_args.root={data_root}",
        "--data.source.init_args.tiny=true",
        "--data.source.init_args.languages=[eng]",  # in_language eng, as shipped: evaluation stays short
    ]
    if program == "speech.fit":
        args += ["--data.max_batch_seconds=20", f"--model.cache_dir={work / 'cache'}"]
    elif load_table()[name]["step"] == "recognize":  # the recognizer on the eval splits, a stand-in classifier
        args += [f"--data.cache_dir={work / 'cache'}", f"--model.model.init_args.model={work / 'classifier'}"]
        if "whisper" in " ".join(configs):
            # half precision is for the GPU; the shipped batch (32 clips) and token cap (224) are kept: the
            # tiny corpus's 18 English eval clips are one decode call, random weights decoding to the cap
            args += ["--data.recognizer.init_args.fp16=false"]
    else:
        args += [f"--data.cache_dir={work / 'cache'}", "--data.recognizer=null"]  # gold text: the classifier alone
    step = load_table()[name]["step"]
    if step == "translate":  # translate-test of Russian gold text (English is kept as it is), a stand-in classifier
        args += [f"--model.model.init_args.model={work / 'classifier'}", "--data.translator.init_args.device=cpu"]
        args += ["--data.source.init_args.languages=[rus]", "--data.protocol.sources=[rus]"]
        # random weights rarely write the end token; the tiny corpus's sentences are under 32 tokens
        args += ["--data.translator.init_args.max_new_tokens=32"]
        args += ["--data.translator.init_args.dtype=float32"] * (precision == "32-true")
    if program == "cascade.fit" and step == "lora":  # the LLM scores 6 answers a text: its evaluation left out
        args += ["--test=false"] + ["--model.model.init_args.dtype=float32"] * (precision == "32-true")
        # 4 texts a batch, each prompt read once for its 6 class answers: with the prompt repeated per answer
        # (24 sequences) their fp32 activations took this 1.5 B model past 23 GB on CPU
        args += ["--data.batch_size=4"]
    return args


def gpu_memory_gb(name: str, entry: dict, program: str, trainable: float) -> float:
    """Estimated GPU memory (GB) for the shipped batch.

    Training (bf16-mixed, AdamW): ``16 P_trained + 4 P_frozen`` bytes (fp32 weights 4, grads 4, AdamW
    moments 8; the VLM's and the LLM's frozen weights in bf16: 2) plus activations by Korthikanti et al. 2022
    (arXiv:2205.05198) for a transformer without recomputation, attention in a fused kernel (SDPA: no
    ``s^2`` scores kept): ``34 * tokens * width`` bytes per layer; open_clip: the image tower's patches
    of a batch of 128 images (an upper bound: the tower is frozen as shipped, so its activations need
    not be kept). Recognition (fp16, no backward): ``2 P`` bytes of weights plus one layer's working
    set, ``20 * tokens * width`` bytes, for the shipped batch (:func:`shipped_recognizer`; 16 clips
    where none is given) of 30 s clips (1500 frames each); Whisper adds its decoder's key and value
    caches, ``2 * 2 * layers * clips * (1500 frames + sample_len tokens) * width`` bytes (cross- and
    self-attention; 8.0 GB measured in fp32 for 18 clips on CPU, the 8.8 GB of this formula);
    translation (bf16) the same working set for 32 texts of 128 tokens.
    """
    config = entry.get("config") or {}
    config = config.get("text_config", config)  # the VLM: its language model's activations (LoRA there)
    total = published_count(entry["params"])
    width = config.get("hidden_size") or config.get("d_model") or config.get("n_audio_state")
    layers = config.get("num_hidden_layers") or config.get("encoder_layers") or config.get("n_audio_layer")
    tokens = SHIPPED_TOKENS.get(program, 0)
    if entry.get("class") == "ViTMAEModel":
        tokens = PIXEL_TOKENS[program]
    frozen_bytes = 4
    if entry["step"] == "lora" and entry["builder"] == "transformers":  # frozen weights in bf16 as shipped
        tokens, frozen_bytes = (VLM_TOKENS if program == "vision.fit_vlm" else LLM_TOKENS), 2
    if entry["builder"] == "open_clip":  # the image tower's patches dominate: batch 128 (cifar10_xlmr.yaml)
        import open_clip

        vision = open_clip.get_model_config(name.split("/")[0])["vision_cfg"]
        width, layers = vision.get("width", 768), vision.get("layers", 12)  # timm's ViT-B: 768 x 12
        tokens = 128 * (vision["image_size"] // vision.get("patch_size", 16)) ** 2
    if entry["step"] == "recognize":
        settings = shipped_recognizer(name)
        clips = settings.get("batch_size", 16)
        working = 20 * clips * 1500 * width
        if entry["builder"] == "openai-whisper":  # its decoder's key and value caches, every layer (fp16)
            tokens = settings.get("sample_len") or 224  # Whisper's default cap
            working += 2 * 2 * config["n_text_layer"] * clips * (1500 + tokens) * config["n_text_state"]
        return (2 * total + working) / 1e9
    if entry["step"] == "translate":  # bf16, 32 texts of up to 128 tokens a batch (translator/nllb.yaml)
        return (2 * total + 20 * 32 * 128 * width) / 1e9
    states = 16 * trainable + frozen_bytes * (total - trainable)
    return (states + 34 * tokens * width * layers) / 1e9


def shipped_recognizer(name: str) -> dict:
    """The recognizer's ``init_args`` as the shipped configs of ``name``'s plan give them (a later config
    naming another recognizer class starts over, as the CLI would)."""
    import yaml

    settings, class_path = {}, None
    for config in plan(name)[1]:
        recognizer = (yaml.safe_load((REPO / "configs" / config).read_text(encoding="utf-8")).get("data") or {}).get(
            "recognizer"
        ) or {}
        if recognizer.get("class_path") not in (None, class_path):
            settings, class_path = {}, recognizer["class_path"]
        settings |= recognizer.get("init_args") or {}
    return settings


def run_step(name: str, work: Path, data_root: Path, precision: str | None, threads: int | None) -> dict:
    """The ``--step`` process: the program on the saved model, then this process's peak RSS."""
    import torch

    model = (work / "stand_in.txt").read_text().strip()
    cmd = step_command(name, model, work, data_root, precision, threads)
    started = time.perf_counter()
    # the program in this process, so that getrusage(RUSAGE_SELF) is its peak; argv as typed
    program = __import__(cmd[2], fromlist=["main"])
    cli = program.main(cmd[3:])
    steps = json.loads((work / "steps.json").read_text())
    module = cli.model
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "step_s": steps["seconds"][0],
        "step_peak_rss_gb": steps["step_peak_rss_gb"],  # before validation and the checkpoints
        "wall_s": time.perf_counter() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,  # the whole run's CPU seconds: steadier than wall on a busy machine
        "peak_rss_gb": peak_rss_gb(),
        "params_m": sum(p.numel() for p in module.parameters()) / 1e6,
        "trainable_m": trainable / 1e6,
        "precision": cli.trainer.precision,
        "threads": torch.get_num_threads(),
        "load": os.getloadavg()[0],  # the machine's 1-minute load when the run ended
        "program": cmd[2],
        "command": " ".join(cmd[1:]),
    }


def work_name(name: str) -> str:
    """The scratch folder of ``name`` (under ``--work-dir``)."""
    return name.replace("/", "--").replace(":", "-")


def measure(name: str, root: Path, data_root: Path, precision: str | None = None, threads: int | None = None) -> dict:
    """Build and step ``name`` in two fresh processes; the figures of the step."""
    work = root / work_name(name)
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    if threads:  # else Lightning's DDP strategies on CPU (speechtaxi.yaml's) reset torch's threads to the cores
        env["OMP_NUM_THREADS"] = str(threads)
    base = [sys.executable, "-m", "benchmarks.real_shape", name, "--work-dir", str(work), "--data-root", str(data_root)]
    options = [f"--precision={precision}"] * bool(precision) + [f"--threads={threads}"] * bool(threads)
    for stage in ("--build", "--step"):
        proc = subprocess.run([*base, stage, *options], cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            # the exit status too: a process the kernel killed (-9, out of memory) leaves no traceback
            last = (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
            return {"error": f"{stage}: exit status {proc.returncode}: {last}"}
    if not (work / "result.json").exists():  # the programs stop cleanly on SIGTERM (exit status 0)
        return {"error": "--step: stopped before the end (no result.json)"}
    result = json.loads((work / "result.json").read_text())
    entry = load_table()[name]
    result["gpu_gb"] = gpu_memory_gb(name, entry, result["program"], result["trainable_m"] * 1e6)
    return result


def table_lines(results: dict[str, dict]) -> list[str]:
    """The table of ``results`` (benchmarks/README.md's rows), GPU memory estimated now (:func:`gpu_memory_gb`)."""
    table = load_table()
    lines = [
        "| model | published | built (in the program) | CPU step | whole run | peak RSS | est. GPU memory | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| `{name}` | {table[name]['params']} | FAILED: {r['error']} | | | | | |")
            continue
        entry, how = table[name], f"{r['precision']}, {r['threads']} thread{'s' * (r['threads'] > 1)}"
        gpu = gpu_memory_gb(name, entry, r["program"], r["trainable_m"] * 1e6)
        if entry["step"] in ("recognize", "translate"):  # the stand-in classifier's step is not the point
            built, step = f"{entry['step']} in `{r['program']}`", f"inference only ({how})"
        else:
            built = f"{r['params_m']:.1f}M in `{r['program']}` ({r['trainable_m']:.1f}M trained)"
            step = f"{r['step_s']:.1f} s ({how})"
        run = f"{r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} CPU s"
        memory = f"{r['peak_rss_gb']:.1f} GB"
        if r.get("step_peak_rss_gb") and entry["step"] not in ("recognize", "translate"):
            memory += f" ({r['step_peak_rss_gb']:.1f} GB at the step's end)"  # before validation and checkpoints
        memory += f" | {gpu:.1f} GB"
        lines.append(f"| `{name}` | {entry['params']} | {built} | {step} | {run} | {memory} | {r['load']:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="models of configs/models.yaml (default: every steppable one)")
    parser.add_argument("--list", action="store_true", help="print the steppable models and exit")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    parser.add_argument("--table", nargs="+", default=None, help="print the table of these --out files and exit")
    parser.add_argument("--work-dir", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--data-root", default=None, help="tiny embedded corpus folder (built if missing)")
    parser.add_argument("--precision", default=None, help="the trainer's precision (default: the shipped config's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the program's)")
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--step", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(steppable()))
        return 0
    if args.table:
        print("\n".join(table_lines({k: v for f in args.table for k, v in json.loads(Path(f).read_text()).items()})))
        return 0
    if args.build:
        (Path(args.work_dir) / "stand_in.txt").write_text(build_stand_in(args.names[0], Path(args.work_dir)))
        return 0
    if args.step:
        result = run_step(args.names[0], Path(args.work_dir), Path(args.data_root), args.precision, args.threads)
        (Path(args.work_dir) / "result.json").write_text(json.dumps(result))
        return 0
    from speech.embedded import load_embedded
    from workbench.data.embedded import tiny_settings

    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        data_root = Path(args.data_root or Path(tmp) / "data")
        load_embedded(tiny_settings(), data_root)
        results = {}
        for name in args.names or steppable():
            results[name] = measure(name, Path(tmp), data_root, args.precision, args.threads)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\n".join(table_lines(results)))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
