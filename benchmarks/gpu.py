"""The GPU check: real-shape training and recognition speed, and the main job on the GPU, in one table.

    python -m benchmarks.gpu            # on a GPU machine: ~5 minutes on one H100 (budget: 8)
    python -m benchmarks.gpu --quick    # tiny shapes on CPU (what tests/test_benchmarks_gpu.py runs)

Rows (each runs even when an earlier one failed; the exit status is 1 if any failed):

1. ``e2e``: :class:`speech.model.SpeechClassifier` over :class:`speech.encoders.hf.HFEncoder` with
   a random-weight XLS-R 300m (``configs/models.yaml``), trained by Lightning in ``bf16-mixed`` on
   the shipped batch (16 clips of 10 s = ``max_batch_seconds`` 160): clips/s, encoder frames
   (tokens)/s, and MFU = model FLOP/s (``torch.utils.flop_counter`` over one forward + backward)
   / the card's dense bf16 peak (:data:`PEAK_BF16`, from the vendor's datasheet).
2. ``whisper``: :class:`cascade.recognizers.whisper_asr.WhisperRecognizer` (batched decoding) vs
   one ``whisper.transcribe`` per file (:func:`tests.helpers.cascade_testing.transcribe_per_file`), fp16,
   on a random-weight Whisper large-v3: clips/s both ways, their ratio, identical transcripts.
3. ``main job``: ``python -m speech.fit -c configs/embedded/speech.yaml`` (the README's command,
   :func:`benchmarks.wall_time.main_command`) with ``--trainer.accelerator=gpu`` vs the same on
   CPU (or ``--cpu-accuracy``): test accuracies equal within noise, i.e. within 3 binomial
   standard deviations of a difference, ``3 * sqrt(2 p (1 - p) / n)``.

``--quick`` runs the same code with tiny shapes, on CPU, the main job cut to a few batches of the
tiny corpus (its "GPU" run is a second CPU run). No figure is judged against a target here.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import lightning as L
import torch

from benchmarks.common import base_parser, header, machine_line
from workbench.runs import RunDir

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

# dense (no sparsity) bf16 tensor-core peak FLOP/s by torch.cuda.get_device_name (first match wins):
# NVIDIA's datasheets give the sparse figure; dense is half of it.
PEAK_BF16 = [
    ("H100 PCIe", 756e12, "NVIDIA H100 datasheet: 1,513 TFLOPS bf16 with sparsity (PCIe)"),
    ("H100 NVL", 835e12, "NVIDIA H100 datasheet: 1,671 TFLOPS bf16 with sparsity (NVL)"),
    ("H100", 989e12, "NVIDIA H100 datasheet: 1,979 TFLOPS bf16 with sparsity (SXM)"),
    ("H200", 989e12, "NVIDIA H200 datasheet: 1,979 TFLOPS bf16 with sparsity"),
    ("A100", 312e12, "NVIDIA A100 datasheet: 312 TFLOPS bf16 dense"),
    ("L40S", 362e12, "NVIDIA L40S datasheet: 733 TFLOPS bf16 with sparsity"),
    ("L4", 121e12, "NVIDIA L4 datasheet: 242 TFLOPS bf16 with sparsity"),
]
SIZES = {  # per row: full (GPU) and quick (CPU, tiny) settings
    "full": {"clips": 16, "seconds": 10.0, "steps": 10, "warmup": 3, "asr_clips": 32, "sample_len": 24},
    "quick": {"clips": 2, "seconds": 1.0, "steps": 2, "warmup": 1, "asr_clips": 4, "sample_len": 8},
}
NOISE_SDS = 3  # accuracies closer than this many binomial standard deviations count as equal


def peak_flops(device: torch.device) -> tuple[float | None, str]:
    """The card's dense bf16 peak and its source; ``(None, why)`` off the table or on CPU."""
    if device.type != "cuda":
        return None, "no peak on CPU"
    name = torch.cuda.get_device_name(device)
    for key, peak, source in PEAK_BF16:
        if key in name:
            return peak, source
    return None, f"'{name}' not in benchmarks.gpu.PEAK_BF16"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def noise_batch(clips: int, seconds: float, num_classes: int, seed: int = 0) -> dict:
    """A batch in :func:`speech.data.collate_waves`' format: ``clips`` clips of noise, equal length."""
    from speech.data import collate_waves

    gen = torch.Generator().manual_seed(seed)
    waves = 0.1 * torch.randn(clips, int(seconds * 16000), generator=gen)
    rows = [(i, waves[i].numpy(), i % num_classes, f"noise-{i}") for i in range(clips)]
    return collate_waves(rows)


def encoder_folder(work: Path, quick: bool) -> str:
    """A random XLS-R 300m (its published shape) saved where HFEncoder reads it; tiny for ``quick``."""
    from benchmarks.model_shapes import save_speech_encoder
    from tests.helpers.speech_stand_ins import tiny_hf

    if quick:
        return tiny_hf(work / "xlsr-tiny", "wav2vec2")
    return save_speech_encoder("facebook/wav2vec2-xls-r-300m", work / "xlsr-300m")


class StepTimer(L.Callback):
    """Wall seconds of each training step after the first ``warmup`` (the device synchronised)."""

    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device, self.seconds, self.started = warmup, device, [], 0.0

    def on_train_batch_start(self, trainer, *_) -> None:
        synchronize(self.device)
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, *_) -> None:
        synchronize(self.device)
        if trainer.global_step > self.warmup:
            self.seconds.append(time.perf_counter() - self.started)


def train_flops(model, batch: dict, device: torch.device) -> int:
    """FLOPs of one forward + backward of ``model`` on ``batch`` (matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    with FlopCounterMode(display=False) as counter, torch.autocast(device.type, dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(batch).float(), batch["label"])
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def e2e_row(size: dict, work: Path, device: torch.device, quick: bool) -> str:
    from speech.encoders.hf import HFEncoder
    from speech.model import SpeechClassifier
    from speech.pooling import MeanPooling

    num_classes = 7  # SpeechTaxi's topics
    encoder = HFEncoder(encoder_folder(work, quick), freeze_feature_encoder=True)
    model = SpeechClassifier(encoder, num_classes, MeanPooling(), encoder_lr=3e-5, cache_dir=None, system="gpu-check")
    batch = noise_batch(size["clips"], size["seconds"], num_classes)
    timer = StepTimer(size["warmup"], device)
    trainer = L.Trainer(
        accelerator=device.type,
        devices=1,
        precision="bf16-mixed",
        max_steps=size["warmup"] + size["steps"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        default_root_dir=str(work),
    )
    loader = torch.utils.data.DataLoader([batch] * (size["warmup"] + size["steps"]), batch_size=None)
    trainer.fit(model, loader)
    step = sorted(timer.seconds)[len(timer.seconds) // 2]  # median step
    flops = train_flops(model.to(device), batch, device)
    frames = int(encoder.model._get_feat_extract_output_lengths(batch["lengths"]).sum())
    peak, source = peak_flops(device)
    mfu = f"MFU {flops / step / peak:.1%} of {peak / 1e12:.0f} TFLOP/s ({source})" if peak else f"MFU n/a ({source})"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return (
        f"{params:.1f}M params, {size['clips']} x {size['seconds']:g} s, median of {len(timer.seconds)} steps "
        f"{step * 1e3:.0f} ms: {size['clips'] / step:.1f} clips/s, {frames / step:,.0f} tokens/s, "
        f"{flops / step / 1e12:.2f} TFLOP/s, {mfu}"
    )


def whisper_checkpoint(work: Path, quick: bool) -> str:
    """A random Whisper large-v3 (its published shape from configs/models.yaml); the stand-in for ``quick``."""
    from benchmarks.model_shapes import load_table
    from benchmarks.models import save_whisper
    from tests.helpers.speech_stand_ins import random_whisper_checkpoint

    if quick:
        return save_whisper(work / "whisper-stand-in.pt", "stand-in")
    dims = load_table()["large-v3"]["config"]
    # weights shrink with width (as benchmarks.models.save_whisper) so the decoder's text depends on the audio
    std = 0.2 * (64 / dims["n_audio_state"]) ** 0.5
    return str(random_whisper_checkpoint(work / "whisper-large-v3.pt", dims, seed=0, std=std))


def whisper_row(size: dict, work: Path, device: torch.device, quick: bool) -> str:
    from cascade.recognizers.whisper_asr import WhisperRecognizer
    from tests.helpers.cascade_testing import transcribe_per_file

    fp16 = device.type == "cuda"
    gen = torch.Generator().manual_seed(1)
    clips = [  # 2-8 s of noise + a tone, like short utterances
        (0.05 * torch.randn(int(16000 * (2 + 6 * torch.rand(1, generator=gen).item())), generator=gen)).numpy()
        for _ in range(size["asr_clips"])
    ]
    languages = ["eng", "rus"] * (len(clips) // 2) + ["eng"] * (len(clips) % 2)
    rec = WhisperRecognizer(
        whisper_checkpoint(work, quick),
        batch_size=size["asr_clips"],
        sample_len=size["sample_len"],
        fp16=fp16,
        device=str(device),
    )
    rec.transcribe(clips[:2], languages[:2])  # warm-up: model load, kernels, tokenizer
    started = time.perf_counter()
    batched = rec.transcribe(clips, languages)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    sequential = transcribe_per_file(rec.model, clips, languages, size["sample_len"], fp16=fp16)
    per_file_s = time.perf_counter() - started
    same = sum(a == b for a, b in zip(batched, sequential, strict=True))
    params = sum(p.numel() for p in rec.model.parameters()) / 1e6
    return (
        f"{params:.1f}M params, {len(clips)} clips, sample_len {size['sample_len']}, fp16 {fp16}: batched "
        f"{len(clips) / batched_s:.2f} clips/s vs per-file transcribe {len(clips) / per_file_s:.2f} clips/s = "
        f"{per_file_s / batched_s:.2f}x; same transcripts {same}/{len(clips)}"
    )


def main_job_accuracy(work: Path, accelerator: str, quick: bool, data_root: str) -> tuple[float, int]:
    """Test accuracy and item count of the README's main job run with ``--trainer.accelerator``."""
    from benchmarks.wall_time import main_command

    run = work / f"main-{accelerator}"
    cmd = main_command(run, quick, data_root) + [f"--trainer.accelerator={accelerator}"]
    log = work / f"main-{accelerator}.log"
    with open(log, "w") as out:
        code = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {code}: {log.read_text()[-1500:]}")
    overall = RunDir(run).metrics()["splits"]["test"]["overall"]
    return overall["accuracy"], overall["n"]


def main_job_row(work: Path, device: torch.device, quick: bool, data_root: str, cpu_accuracy: float | None) -> str:
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    acc, n = main_job_accuracy(work, accelerator, quick, data_root)
    reference = cpu_accuracy
    if reference is None:
        reference, _ = main_job_accuracy(work, "cpu", quick, data_root)
    p = (acc + reference) / 2
    bound = NOISE_SDS * math.sqrt(2 * p * (1 - p) / n) if 0 < p < 1 else 0.0
    verdict = "equal within noise" if abs(acc - reference) <= bound else "DIFFERENT beyond noise"
    return (
        f"test accuracy {acc:.4f} (n={n}, accelerator={accelerator}) vs CPU {reference:.4f}: "
        f"difference {abs(acc - reference):.4f}, bound {bound:.4f} ({NOISE_SDS} binomial sd): {verdict}"
    )


def run_row(name: str, fn) -> tuple[str, str, bool]:
    """``(name, result, ok)``; a failure is reported in its row (its last line) instead of ending the check."""
    started = time.perf_counter()
    try:
        result, ok = fn(), True
    except Exception as error:  # the GPU session gets every row's outcome from one run
        traceback.print_exc()
        result, ok = f"FAILED: {type(error).__name__}: {str(error).strip().splitlines()[-1][:300]}", False
    return name, f"{result} [{time.perf_counter() - started:.0f} s]", ok


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument(
        "--cpu-accuracy", type=float, default=None, help="the main job's CPU test accuracy (skip its run)"
    )
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.quick else "cpu")
    size = SIZES["quick" if args.quick else "full"]
    if args.quick:
        torch.set_num_threads(args.threads)
    data_root = args.data_root
    print("\n".join(header("GPU check", args)))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        work = Path(tmp)
        rows = [
            run_row("e2e XLS-R 300m bf16 training", lambda: e2e_row(size, work, device, args.quick)),
            run_row("Whisper large-v3 batched vs per-file", lambda: whisper_row(size, work, device, args.quick)),
            run_row(
                "main job --trainer.accelerator=gpu",
                lambda: main_job_row(work, device, args.quick, data_root, args.cpu_accuracy),
            ),
        ]
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"\n{machine_line()}; total {time.perf_counter() - started:.0f} s")
    print(f"\n| check ({'quick: tiny shapes' if args.quick else 'real shapes'}) | device | result |\n|---|---|---|")
    for name, result, _ in rows:
        print(f"| {name} | {device_name} | {result} |")
    if args.out:
        Path(args.out).write_text(json.dumps([{"check": n, "result": r, "ok": ok} for n, r, ok in rows], indent=2))
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights only: nothing is downloaded
    sys.exit(main())
