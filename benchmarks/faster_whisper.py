"""faster-whisper (CTranslate2) batched decoding vs per-file openai-whisper ``transcribe``, on CPU.

    python -m benchmarks.faster_whisper [--quick | --full] [--clips N] [--batch-size B] [--threads T]
        [--compute-type int8] [--min-window 10]

One random Whisper with the real ``tiny`` shape (``--dims stand-in``: the tests' 64-wide one)
is saved for openai-whisper and converted for CTranslate2 with its own converter (random
transformers weights -> ``TransformersConverter``; the tokenizer is built from openai-whisper's
bundled vocabulary), so both sides run the same weights. On the embedded corpus' test clips,
in interleaved rounds (every side once per round, order rotating), the reference is one
``whisper.transcribe`` call per clip and the sides are
:class:`cascade.recognizers.FasterWhisperRecognizer` (length-sorted batches, one encoder and
one ``generate`` call each) with:

1. ``window: full`` (30 s windows, as ``transcribe``), ``int8`` (a CPU's default) and
   ``float32``: the ``float32`` transcripts must equal ``transcribe``'s (differing items listed);
2. ``window: clip`` (each clip's own length in whole seconds), ``int8`` and ``float32``, and
   ``int8`` with a ``--min-window`` floor: other transcripts than ``transcribe``'s (Whisper
   sees no 30 s window; counted). openai-whisper run per file on the same clip windows is
   timed too (how much of the gain is the window's, how much the engine's), and its
   transcripts must equal CTranslate2's at ``float32``.

Decoding options are equal on both sides: greedy at temperature 0 only (``transcribe``'s
default fallback re-decodes at 0.2 ... 1.0 whenever the compression ratio or the mean log
probability fails its threshold, which a random model's looping text always does: up to six
decodes per clip), no conditioning on previous text, no timestamps, the same ``sample_len``,
no no-speech skipping, the language given.

No weights can be downloaded here: the model is random and its transcripts are nonsense
words. What is compared honestly is speed and whether both engines decode the same tokens
from the same weights, not recognition quality.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from benchmarks.common import Interleaved, base_parser, header, interleave_many, load_clips
from benchmarks.models import save_whisper
from tests.helpers.cascade_testing import transcribe_per_file

SETTINGS = {
    "quick": dict(clips=4, langs=["eng", "rus"], dims="stand-in", rounds=2, tiny=True, sample_len=8),
    "default": dict(clips=16, langs=["eng", "rus"], dims="tiny", rounds=3, tiny=False, sample_len=16),
    "full": dict(clips=64, langs=["eng", "rus", "hin", "tha"], dims="tiny", rounds=3, tiny=False, sample_len=24),
}


def compare(ours: list[str], reference: list[str], ids: list[str], name: str, listed: bool = True) -> list[str]:
    """The SAME_TRANSCRIPTS line, then each differing item (``listed``)."""
    differing = [(i, a, b) for i, a, b in zip(ids, ours, reference, strict=True) if a != b]
    lines = [f"SAME_TRANSCRIPTS {name}: {len(ids) - len(differing)}/{len(ids)} identical"]
    lines += [f"  differs: {item}: {a[:50]!r} vs {b[:50]!r}" for item, a, b in differing if listed]
    return lines


def recognizers(path: Path, args, sample_len: int) -> dict:
    """The faster-whisper sides by name: full and clip windows, ``--compute-type`` and float32."""
    from cascade.recognizers import FasterWhisperRecognizer

    kinds = list(dict.fromkeys([args.compute_type, "float32"]))
    specs = {f"faster_whisper_{k}": dict(compute_type=k) for k in kinds}
    specs |= {f"faster_whisper_clip_{k}": dict(compute_type=k, window="clip") for k in kinds}
    if args.min_window > 0:
        floor = dict(window="clip", min_window_s=args.min_window)
        specs[f"faster_whisper_clip{args.min_window:g}s_{args.compute_type}"] = dict(
            compute_type=args.compute_type, **floor
        )
    common = dict(batch_size=args.batch_size, sample_len=sample_len, device="cpu", cpu_threads=args.threads)
    return {name: FasterWhisperRecognizer(str(path), **spec, **common) for name, spec in specs.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="clips to recognize (default by size)")
    parser.add_argument("--dims", choices=["tiny", "stand-in"], default=None, help="random whisper's shape")
    parser.add_argument("--sample-len", type=int, default=None, help="tokens per clip at most (random models loop)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per encoder / generate call")
    parser.add_argument("--compute-type", default="int8", help="faster-whisper's compute type for the ratio")
    parser.add_argument("--min-window", type=float, default=10.0, help="seconds: one more clip-window side (0: none)")
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    torch.set_num_threads(args.threads)

    import whisper

    from cascade.languages import whisper_language
    from speech.audio import load_audio
    from tests.helpers.ct2_testing import ct2_whisper, openai_clip_window

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
        fast = recognizers(ct2_path, args, sample_len)
        clip = fast[f"faster_whisper_clip_{args.compute_type}"]
        seconds = sorted(clip.window_frames(len(w)) / 100 for w in waves)
        lines.append(
            f"data: {len(waves)} clips, {sum(len(w) for w in waves) / 16000:.0f} s, {len(set(languages))} languages; "
            f"model: random whisper {dims} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params), "
            f"sample_len {sample_len}, batch {args.batch_size}, {args.threads} thread(s) on both sides; "
            f"clip windows {seconds[0]:g}-{seconds[-1]:g} s (full: 30 s)"
        )

        def sequential():
            outputs["transcribe"] = transcribe_per_file(model, waves, languages, sample_len)

        def batched(name):
            def run():
                outputs[name] = fast[name].transcribe(waves, languages)

            return run

        frames = [clip.window_frames(len(w)) for w in waves]

        def openai_clip_windows():  # openai-whisper per file on the clip windows: the window's share of the gain
            outputs["openai_whisper_clip"] = [
                openai_clip_window(model, w, f, whisper_language(lang), sample_len)
                for w, f, lang in zip(waves, frames, languages, strict=True)
            ]

        for rec in fast.values():
            rec.transcribe(waves[:2], languages[:2])  # warm-up: load, first calls
        sides = {n: batched(n) for n in fast} | {"openai_whisper_clip_per_file": openai_clip_windows}
        results = interleave_many(("per_file_transcribe", sequential), sides, rounds)
        for name, result in results.items():
            lines += result.lines(target=3 if args.compute_type in name else None, quick=args.quick)
        ours, theirs = results[f"faster_whisper_clip_{args.compute_type}"], results["openai_whisper_clip_per_file"]
        same = Interleaved("clip_windows_engine", ours.a, theirs.a, ours.times_a, theirs.times_a, ours.loads)
        lines += ["the engine's share on the same clip windows:", *same.lines()[-2:]]
        lines += compare(outputs["faster_whisper_float32"], outputs["transcribe"], ids, "faster_whisper_float32")
        for name in fast:
            if name != "faster_whisper_float32":
                lines += compare(outputs[name], outputs["transcribe"], ids, name, listed=False)
        lines.append(
            f"  ({args.compute_type} quantizes the weights and clip windows are not transcribe's 30 s ones: "
            "differing tokens there are expected)"
        )
        lines += compare(
            outputs["faster_whisper_clip_float32"],
            outputs["openai_whisper_clip"],
            ids,
            "faster_whisper_clip_float32 vs openai-whisper on the same clip windows",
        )
        lines.append(
            "note: random weights, so the transcripts are nonsense words; equal tokens, not quality, are checked"
        )
    print("\n".join(lines), flush=True)
    return outputs


if __name__ == "__main__":
    main()
