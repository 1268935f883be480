"""The embedded data build of the main job: the protocol's languages with the filter designed once vs the old build.

    python -m benchmarks.data_build [--quick | --full]

The README's main job (``in_language`` on English) used to build the whole embedded dataset
(every language) before training, resampling each utterance with ``scipy.signal.resample_poly``,
which designs its 8821-tap anti-aliasing filter on every call. Now it builds only the
languages its protocol reads (a partial build, completed later by whichever run needs the
rest) and resamples with the filter designed once (bit-identical audio). Each round builds
into fresh folders, interleaved:

- ``ours``: ``build_embedded(settings, languages=["eng"])``, the main job's data step now;
- ``reference``: the whole dataset, each utterance resampled as before (the old data step);
- ``whole``: the whole dataset with the new resampling (the per-utterance gain alone).

Sizes are scaled down from the default settings (same 8 languages, fewer utterances per
language) so that a round takes seconds; build time is linear in utterances. uroman is loaded
once before the rounds (every build of a fresh process pays it once, before and after).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from benchmarks.common import base_parser, header, interleave

SETTINGS = {
    "quick": dict(per_language=8, dev=2, test=4, unseen=2, languages=("eng", "rus", "tha"), rounds=1),
    "default": dict(per_language=60, dev=6, test=15, unseen=10, languages=None, rounds=2),
    "full": dict(per_language=120, dev=12, test=30, unseen=20, languages=None, rounds=3),
}


@contextlib.contextmanager
def old_resampling():
    """``tts.resample`` as it was: scipy designs the filter on every call."""
    from scipy.signal import resample_poly

    from speech import tts

    def resample(samples, source_rate, target_rate):
        from math import gcd

        import numpy as np

        samples = np.asarray(samples, dtype=np.float32)
        step = gcd(source_rate, target_rate)
        return resample_poly(samples, target_rate // step, source_rate // step).astype(np.float32)

    saved = tts.resample
    tts.resample = resample
    try:
        yield
    finally:
        tts.resample = saved


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="espeak-ng processes at once (default: the build's)")
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    from speech.embedded import build_embedded
    from workbench.data.embedded import EmbeddedSettings, plan_rows
    from workbench.romanize import default_romanizer

    overrides = dict(
        per_language=preset["per_language"],
        dev_per_language=preset["dev"],
        test_per_language=preset["test"],
        test_unseen_per_language=preset["unseen"],
    )
    if preset["languages"]:
        overrides["languages"] = preset["languages"]
    settings = EmbeddedSettings(**overrides)
    rows, _ = plan_rows(settings)
    main_rows = sum(row.language == "eng" for row in rows)
    lines = header("Embedded data build: the main job's languages, filter designed once vs the old whole build", args)
    lines.append(
        f"data: {len(settings.languages)} languages x {len(rows) // len(settings.languages)} utterances = {len(rows)}; "
        f"the main job (in_language eng) needs {main_rows}; build workers {args.workers or 'default'}"
    )
    default_romanizer().romanize("январь", "rus")  # load uroman once for every side
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        counter = iter(range(10**6))

        def build(languages=None, old=False) -> float:
            root = Path(tmp) / f"r{next(counter)}"
            start = time.perf_counter()
            with old_resampling() if old else contextlib.nullcontext():
                build_embedded(settings, root, workers=args.workers, languages=languages, progress=False)
            return time.perf_counter() - start

        warm = build()  # untimed: imports scipy.signal, designs the filter, reads every voice once
        lines.append(f"warm-up whole build (new resampling, untimed): {warm:.1f} s")
        rounds = args.rounds or preset["rounds"]
        main_job = interleave(
            "data_build_main_job", "ours", "reference", lambda: build(["eng"]), lambda: build(old=True), rounds
        )
        lines += main_job.lines(target=None, unit="s", quick=args.quick)
        whole = interleave(
            "data_build_per_utterance", "whole", "reference", lambda: build(), lambda: build(old=True), rounds
        )
        lines += whole.lines(target=None, unit="s", quick=args.quick)
        full = EmbeddedSettings()
        full_rows = sum(full.split_sizes().values())
        lines.append(
            f"at the default settings the main job builds {full_rows} of {full_rows * len(full.languages)} utterances "
            f"(1/{len(full.languages)}); the ratio above is measured on the scaled-down settings"
        )
    print("\n".join(lines), flush=True)
    return {"main_job": main_job.median_ratio(), "per_utterance": whole.median_ratio()}


if __name__ == "__main__":
    main()
