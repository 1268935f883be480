"""Batched Whisper decoding vs one ``whisper.transcribe`` call per file, on the same tiny model.

    python -m benchmarks.whisper_batched [--quick | --full] [--clips N] [--batch-size B] [--sample-len S] [--threads T]

Builds the random tiny Whisper of the tests (offline), decodes the same clips both ways
(greedy, no conditioning on previous text, same options), checks that the transcripts are
identical and prints the wall times and their ratio. Clips are 0.5-3 s noise + tone, so
the work is the decoder loop and the encoder window, as with short real utterances.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]  # runnable as a file too


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 clips (what python -m benchmarks runs)")
    parser.add_argument("--full", action="store_true", help="128 clips")
    parser.add_argument("--default", action="store_true", help="32 clips (the default)")
    parser.add_argument("--clips", type=int, default=None, help="clips to decode (overrides the size flags)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sample-len", type=int, default=12, help="tokens per clip (random models loop)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    args.clips = args.clips or (8 if args.quick else 128 if args.full else 32)

    import torch
    import whisper

    from cascade.recognizers.whisper_asr import WhisperRecognizer
    from tests.helpers.cascade_testing import noise_clips, tiny_whisper

    if args.threads:
        torch.set_num_threads(args.threads)
    languages = ["eng", "rus"]  # a corpus has many clips per language: decode batches are per language
    with tempfile.TemporaryDirectory() as tmp:
        path = tiny_whisper(Path(tmp) / "tiny.pt")
        clips = noise_clips(args.clips, seed=0)
        langs = [languages[i % len(languages)] for i in range(len(clips))]
        rec = WhisperRecognizer(str(path), batch_size=args.batch_size, sample_len=args.sample_len, device="cpu")
        rec.transcribe(clips[:2], langs[:2])  # warm-up: model load, tokenizer, mel filters

        started = time.perf_counter()
        batched = rec.transcribe(clips, langs)
        batched_s = time.perf_counter() - started

        started = time.perf_counter()
        sequential = [
            whisper.transcribe(
                rec.model,
                clip,
                temperature=0.0,
                condition_on_previous_text=False,
                language={"eng": "en", "rus": "ru", "tha": "th", "deu": "de"}[lang],
                without_timestamps=True,
                fp16=False,
                sample_len=args.sample_len,
                no_speech_threshold=None,
                verbose=None,
            )["text"].strip()
            for clip, lang in zip(clips, langs, strict=True)
        ]
        sequential_s = time.perf_counter() - started
    result = {
        "clips": len(clips),
        "batch_size": args.batch_size,
        "sample_len": args.sample_len,
        "torch_threads": torch.get_num_threads(),
        "batched_s": round(batched_s, 2),
        "sequential_s": round(sequential_s, 2),
        "speedup": round(sequential_s / batched_s, 2),
        "identical": batched == sequential,
        "differing": sum(a != b for a, b in zip(batched, sequential, strict=True)),
    }
    print(json.dumps(result, indent=2))
    # the summary lines python -m benchmarks collects
    print(f"RATIO whisper_batched per-file/batched wall time: {result['speedup']}x ({len(clips)} clips)")
    print(f"SAME_TRANSCRIPTS whisper_batched: {result['identical']}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["identical"] else 1)
