"""The speech loader's memory does not grow with the corpus: clips are read when a batch needs them.

A corpus of N clips and one of 4N clips (hard links to a few real FLAC clips made from the
embedded corpus' speech, under distinct ids) go through ``SpeechDataModule``'s training
loader for 2 epochs with persistent workers, each in a fresh interpreter
(``tests/audio_memory_probe.py``); the summed PSS of the main process and its workers must
not grow by more than :data:`GROWTH_PER_CLIP` per added clip, a small fraction of one clip's
own float32 samples (a loader that keeps decoded clips grows by at least one clip's size per
clip). The quick variant runs in the default suite; the SpeechTaxi-scale one (20,000 clips,
30 h, 4 workers) is marked ``scale``::

    python -m pytest -q -m scale tests/test_audio_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000  # Hz
SOURCE_CLIPS = 4  # distinct audio files; every other clip is a hard link to one of them
GROWTH_PER_CLIP = 32 * 1024  # bytes of summed PSS allowed per added clip (a 2 s clip is 125 KiB of float32)


def source_clips(items, folder: Path, mean_seconds: float) -> list[tuple[Path, float]]:
    """A few real speech clips of ``mean_seconds`` on average, concatenated from embedded utterances."""
    folder.mkdir(parents=True, exist_ok=True)
    waves = iter(sf.read(item.audio, dtype="float32")[0] for item in items)
    out = []
    for index in range(SOURCE_CLIPS):
        target = mean_seconds * (0.8 + 0.4 * index / (SOURCE_CLIPS - 1))  # 0.8x .. 1.2x the mean
        parts, seconds = [], 0.0
        while seconds < target:
            parts.append(next(waves))
            seconds += len(parts[-1]) / RATE
        wave = np.concatenate(parts)[: int(target * RATE)]
        path = folder / f"source{index}.flac"
        sf.write(str(path), wave, RATE, subtype="PCM_16")
        out.append((path, len(wave) / RATE))
    return out


def build_corpus(folder: Path, sources: list[tuple[Path, float]], clips: int) -> tuple[Path, float]:
    """``clips`` training items (hard links under distinct ids) and their manifest; ``(manifest, hours)``."""
    audio = folder / "audio"
    audio.mkdir(parents=True)
    rows, seconds = [], 0.0
    for index in range(clips):
        source, duration = sources[index % len(sources)]
        os.link(source, audio / f"clip{index:06d}.flac")
        seconds += duration
        rows.append(
            {
                "id": f"clip{index:06d}",
                "language": "eng",
                "label": ["a", "b"][index % 2],
                "split": "train",
                "audio": f"audio/clip{index:06d}.flac",
            }
        )
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return manifest, seconds / 3600


def loader_memory(manifest: Path, workers: int, batch_seconds: float) -> dict:
    """The probe's result for one corpus, run in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = str(ROOT / "tests" / "audio_memory_probe.py")
    proc = subprocess.run(
        [sys.executable, probe, str(manifest), "--workers", str(workers), "--batch-seconds", str(batch_seconds)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=3000,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mib(values: list[int]) -> str:
    return "+".join(f"{v / 2**20:.0f}" for v in values) + " MiB"


def check_growth(tmp_path: Path, tiny_corpus, clips: int, mean_seconds: float, workers: int, batch_seconds: float):
    """N and 4N clips through the loader: summed PSS grows by less than GROWTH_PER_CLIP per added clip."""
    sources = source_clips(tiny_corpus.items, tmp_path / "sources", mean_seconds)
    small, _ = build_corpus(tmp_path / "small", sources, clips)
    large, hours = build_corpus(tmp_path / "large", sources, 4 * clips)
    before, after = (loader_memory(corpus, workers, batch_seconds) for corpus in (small, large))
    growth = after["pss_bytes"] - before["pss_bytes"]
    per_clip = growth / (3 * clips)
    print(
        f"summed PSS, {workers} workers, 2 epochs: {clips} clips {before['pss_bytes'] / 2**20:.0f} MiB, "
        f"{4 * clips} clips ({hours:.1f} h) {after['pss_bytes'] / 2**20:.0f} MiB: {per_clip / 1024:.1f} KiB per clip"
    )
    print(f"per process, main first: {mib(before['per_process'])}, {mib(after['per_process'])}")
    assert after["clips"] == 2 * 4 * clips and len(after["per_process"]) == workers + 1
    assert per_clip < GROWTH_PER_CLIP, f"summed PSS grew by {per_clip / 1024:.0f} KiB per added clip"


def test_loader_memory_does_not_grow_with_the_corpus(tmp_path, tiny_corpus):
    # small batches: a worker's heap keeps about one batch of freed samples, noise to this test
    check_growth(tmp_path, tiny_corpus, clips=300, mean_seconds=2.0, workers=2, batch_seconds=30.0)


def threshold_fixed(batch) -> bool:
    """Collate function: whether this process fixed glibc's mmap threshold (runs where the batch is made)."""
    from speech.data import fix_mmap_threshold

    return fix_mmap_threshold.cache_info().currsize == 1


def test_only_loader_workers_fix_the_mmap_threshold(tiny_corpus):
    """A fixed threshold belongs in the workers, whose heaps would keep freed clips; in the training
    process it sends every activation and gradient above 128 KiB through mmap/munmap (the main
    job's training ran 1.8x slower, mostly in system time)."""
    from torch.utils.data import DataLoader

    from speech.data import AudioDataset

    dataset = AudioDataset(tiny_corpus.items[:4])
    assert not threshold_fixed(dataset[0]), "the training process fixed glibc's mmap threshold"
    in_worker = DataLoader(dataset, batch_size=2, num_workers=1, collate_fn=threshold_fixed)
    assert all(in_worker), "a DataLoader worker left glibc's mmap threshold dynamic"


@pytest.mark.scale
@pytest.mark.timeout(3600)
def test_loader_memory_at_speechtaxi_scale(tmp_path, tiny_corpus):
    """20,000 clips, 30 h of audio, 4 workers, 2 epochs (~5 min of decoding on 2 free cores, estimated)."""
    # the shipped SpeechTaxi loader: 4 workers, 160 s of audio per batch
    check_growth(tmp_path, tiny_corpus, clips=5000, mean_seconds=5.4, workers=4, batch_seconds=160.0)


@pytest.mark.long
def test_audio_reading_benchmark_quick(tiny_corpus, tiny_root):
    from tests.helpers.benchmark_runs import ratios, run

    output = run("audio_reading", "--quick", "--data-root", str(tiny_root))
    assert set(ratios(output)) == {"training_throughput"}
