"""faster-whisper (CTranslate2) batched decoding vs per-file openai-whisper ``transcribe``, on CPU.

    python -m benchmarks.faster_whisper [--quick | --full] [--clips N] [--batch-size B] [--threads T]

One random Whisper with the real ``tiny`` shape (``--dims stand-in``: the tests' 64-wide one)
is saved for openai-whisper and converted for CTranslate2 with its own converter (random
transformers weights -> ``TransformersConverter``; the tokenizer is built from openai-whisper's
bundled vocabulary), so both sides run the same weights. On the embedded corpus' test clips:

1. :class:`cascade.recognizers.FasterWhisperRecognizer` (length-sorted batches, one encoder
   and one ``generate`` call each, ``int8`` as on a CPU by default) vs one
   ``whisper.transcribe`` call per clip (greedy, no conditioning, no timestamps, same
   ``sample_len``): interleaved rounds, the ratio of wall times (target >= 3x).
2. The same at ``float32``, whose transcripts are compared item by item with ``transcribe``'s:
   the same weights and the same decoding, so they should be identical; differing items are
   listed. ``int8`` transcripts are compared too, but quantization may change tokens.

No weights can be downloaded here: the model is random and its transcripts are nonsense
words. What is compared honestly is speed and whether both engines decode the same tokens
from the same weights, not recognition quality.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.cascade_recognition import per_file
from benchmarks.common import base_parser, header, interleave, load_clips
from benchmarks.models import save_whisper

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "tests")
)  # the converted model is built by the tests' helpers

SETTINGS = {
    "quick": dict(clips=4, langs=["eng", "rus"], dims="stand-in", rounds=2, tiny=True, sample_len=8),
    "default": dict(clips=16, langs=["eng", "rus"], dims="tiny", rounds=2, tiny=False, sample_len=16),
    "full": dict(clips=64, langs=["eng", "rus", "hin", "tha"], dims="tiny", rounds=3, tiny=False, sample_len=24),
}


def compare(ours: list[str], reference: list[str], ids: list[str], name: str) -> list[str]:
    """The SAME_TRANSCRIPTS line, then each differing item."""
    differing = [(i, a, b) for i, a, b in zip(ids, ours, reference, strict=True) if a != b]
    lines = [f"SAME_TRANSCRIPTS {name}: {len(ids) - len(differing)}/{len(ids)} identical"]
    lines += [f"  differs: {item}: {a[:50]!r} vs transcribe {b[:50]!r}" for item, a, b in differing]
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="clips to recognize (default by size)")
    parser.add_argument("--dims", choices=["tiny", "stand-in"], default=None, help="random whisper's shape")
    parser.add_argument("--sample-len", type=int, default=None, help="tokens per clip at most (random models loop)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per encoder / generate call")
    parser.add_argument("--compute-type", default="int8", help="faster-whisper's compute type for the ratio")
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    torch.set_num_threads(args.threads)

    import whisper
    from ct2_testing import ct2_whisper

    from cascade.recognizers import FasterWhisperRecognizer
    from workbench.audio import load_audio

    items, _ = load_clips(args.data_root, preset["tiny"], preset["langs"], "test", args.clips or preset["clips"])
    waves = [load_audio(i.audio, where=i.id) for i in items]
    languages, ids = [i.language for i in items], [i.id for i in items]
    dims, sample_len = args.dims or preset["dims"], args.sample_len or preset["sample_len"]
    rounds = args.rounds or preset["rounds"]
    lines = header("faster-whisper batched vs per-file openai-whisper transcribe (CPU)", args)
    outputs: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        openai_path = save_whisper(Path(tmp) / "whisper.pt", dims)
        ct2_path = ct2_whisper(openai_path, Path(tmp) / "ct2", quantization="float32")
        model = whisper.load_model(openai_path, device="cpu")
        fast = {
            kind: FasterWhisperRecognizer(
                str(ct2_path),
                compute_type=kind,
                batch_size=args.batch_size,
                sample_len=sample_len,
                device="cpu",
                cpu_threads=args.threads,
            )
            for kind in dict.fromkeys([args.compute_type, "float32"])
        }
        lines.append(
            f"data: {len(waves)} clips, {sum(len(w) for w in waves) / 16000:.0f} s, {len(set(languages))} languages; "
            f"model: random whisper {dims} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params), "
            f"sample_len {sample_len}, batch {args.batch_size}, {args.threads} thread(s) on both sides"
        )

        def sequential():
            outputs["transcribe"] = per_file(model, waves, languages, sample_len)

        for kind, rec in fast.items():
            rec.transcribe(waves[:2], languages[:2])  # warm-up: load, first calls

            def batched(rec=rec, kind=kind):
                outputs[kind] = rec.transcribe(waves, languages)

            result = interleave(
                f"faster_whisper_{kind}", f"faster_whisper_{kind}", "per_file_transcribe", batched, sequential, rounds
            )
            lines += result.lines(target=3 if kind == args.compute_type else None, quick=args.quick)
        lines += compare(outputs["float32"], outputs["transcribe"], ids, "faster_whisper_float32")
        if args.compute_type != "float32":
            lines += compare(
                outputs[args.compute_type], outputs["transcribe"], ids, f"faster_whisper_{args.compute_type}"
            )
            lines.append(f"  ({args.compute_type} quantizes the weights: differing tokens there are expected)")
        lines.append(
            "note: random weights, so the transcripts are nonsense words; equal tokens, not quality, are checked"
        )
    print("\n".join(lines), flush=True)
    return outputs


if __name__ == "__main__":
    main()
