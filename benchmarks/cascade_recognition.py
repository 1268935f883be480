"""Cascade stages: batched Whisper decoding vs per-file ``whisper.transcribe``; cached romanization vs uroman.

    python -m benchmarks.cascade_recognition [--quick | --full] [--model PATH]

1. Recognition: :class:`cascade.recognizers.whisper_asr.WhisperRecognizer` (length-sorted
   batches per language through whisper's ``decode``) vs one ``whisper.transcribe`` call per
   clip with the options that make them equal (greedy, ``temperature=0``, no conditioning on
   previous text, no timestamps, same ``sample_len``), on the same model and clips. Both
   sides' transcripts are compared; they must be identical.
   No weights can be downloaded here: the model is a random Whisper with the real ``tiny``
   shape (``--dims stand-in``: the 64-wide model the tests use), or ``--model`` a checkpoint.
2. Romanization: :class:`cascade.romanize_stage.RomanizeStage` (each distinct string once,
   kept in an on-disk cache, a new stage each round as a new run would make) vs calling
   ``uroman.Uroman.romanize_string`` for every string (uroman already loaded on both sides).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import base_parser, header, interleave, load_clips
from benchmarks.models import save_whisper
from benchmarks.profiling import profiled
from tests.helpers.cascade_testing import transcribe_per_file

SETTINGS = {
    "quick": dict(clips=4, langs=["eng", "rus"], dims="stand-in", rounds=2, tiny=True, sample_len=8, strings=200),
    "default": dict(clips=16, langs=["eng", "rus"], dims="tiny", rounds=2, tiny=False, sample_len=16, strings=2000),
    "full": dict(
        clips=128, langs=["eng", "rus", "hin", "tha"], dims="tiny", rounds=3, tiny=False, sample_len=24, strings=7280
    ),
}


def recognition(args, preset: dict, tmp: Path) -> list[str]:
    from cascade.recognizers.whisper_asr import WhisperRecognizer
    from speech.audio import load_audio

    items, _ = load_clips(args.data_root, preset["tiny"], preset["langs"], "test", args.clips or preset["clips"])
    waves = [load_audio(i.audio, where=i.id) for i in items]
    languages = [i.language for i in items]
    dims = args.dims or preset["dims"]
    model_path = args.model or save_whisper(tmp / f"whisper-{dims}.pt", dims)
    sample_len = args.sample_len or preset["sample_len"]
    rec = WhisperRecognizer(model_path, batch_size=args.batch_size, sample_len=sample_len, device="cpu")
    model = rec.model
    outputs = {}

    def batched():
        outputs["batched"] = rec.transcribe(waves, languages)

    def sequential():
        outputs["per_file"] = transcribe_per_file(model, waves, languages, sample_len)

    what = f"checkpoint {args.model}" if args.model else f"random whisper {dims}"
    lines = [
        f"recognition data: {len(waves)} clips, {sum(len(w) for w in waves) / 16000:.0f} s, "
        f"{len(set(languages))} languages; model: {what}"
        f" ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params), sample_len {sample_len}, "
        f"batch {args.batch_size}"
    ]
    batched()  # warm-up (first calls, tokenizer)
    result = interleave(
        "whisper_batched_decoding",
        "batched",
        "per_file_transcribe",
        batched,
        sequential,
        args.rounds or preset["rounds"],
    )
    lines += result.lines(target=3, quick=args.quick)
    if not args.no_profile:  # where the time goes: one call of each side under torch.profiler
        for name, fn in (("batched", batched), ("per_file_transcribe", sequential)):
            table, _, seconds = profiled(fn, row_limit=10, memory=False)
            lines += [f"-- torch.profiler, {name}: {seconds:.1f} s profiled", table]
    same = sum(a == b for a, b in zip(outputs["batched"], outputs["per_file"], strict=True))
    lines.append(
        f"SAME_TRANSCRIPTS whisper: {same}/{len(waves)} identical"
        f"{'' if same == len(waves) else ' -- MISMATCH'}; e.g. {outputs['batched'][0][:60]!r}"
    )
    return lines


def romanization(args, preset: dict, tmp: Path) -> list[str]:
    from cascade.romanize_stage import RomanizeStage
    from workbench.romanize import Romanizer, _engine

    n = args.strings or preset["strings"]
    items, _ = load_clips(args.data_root, preset["tiny"], None, "train", n)  # round-robin over the languages
    pool = [(i.text, i.language) for i in items]
    pairs = (pool * (n // len(pool) + 1))[:n]  # repeated when the corpus has fewer items, as corpora repeat strings
    texts, langs = [p[0] for p in pairs], [p[1] for p in pairs]
    codes, uroman = _engine()  # load uroman once for both sides (seconds), outside the timing
    outputs = {}

    def stage():
        outputs["stage"] = RomanizeStage(tmp / "cascade-cache", Romanizer())(texts, langs)

    def direct():
        outputs["direct"] = [uroman.romanize_string(t, lcode=codes[lang]) for t, lang in zip(texts, langs, strict=True)]

    start = time.perf_counter()
    stage()  # the first run fills the on-disk cache; later runs (the rounds) read it
    first = time.perf_counter() - start
    lines = [
        f"romanization data: {len(texts)} strings ({len(set(pairs))} distinct), {len(set(langs))} languages; "
        f"first run of the stage (romanizes every distinct string, fills the cache): {first:.2f} s"
    ]
    result = interleave(
        "romanize_stage", "cached_stage", "uroman_per_string", stage, direct, args.rounds or preset["rounds"]
    )
    lines += result.lines()
    same = sum(a == b for a, b in zip(outputs["stage"], outputs["direct"], strict=True))
    lines.append(f"SAME_ROMANIZATIONS: {same}/{len(texts)} identical")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="clips to recognize (default by size)")
    parser.add_argument("--dims", choices=["tiny", "stand-in"], default=None, help="random whisper's shape")
    parser.add_argument("--model", default=None, help="a whisper checkpoint path or name instead of a random one")
    parser.add_argument("--sample-len", type=int, default=None, help="tokens per clip at most (random models loop)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per decode call")
    parser.add_argument("--strings", type=int, default=None, help="strings to romanize (default by size)")
    parser.add_argument("--no-profile", action="store_true", help="skip the torch.profiler pass")
    parser.add_argument("--skip", choices=["recognition", "romanization"], default=None)
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    torch.set_num_threads(args.threads)
    lines = header("Cascade: batched whisper vs per-file transcribe; cached romanization vs uroman", args)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        if args.skip != "recognition":
            lines += recognition(args, preset, Path(tmp))
        if args.skip != "romanization":
            lines += romanization(args, preset, Path(tmp))
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
