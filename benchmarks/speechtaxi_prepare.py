"""SpeechTaxi's MP3 -> 16 kHz FLAC preparation in N processes vs one process.

    python -m benchmarks.speechtaxi_prepare [--quick | --full] [--rounds N] [--processes N]

Both sides run :func:`speech.speechtaxi.prepare_speechtaxi` on the same local replica
of the repository (real MP3, 22.05 kHz stereo, ``tables.zip`` + ``data.zip``, read through
``huggingface_hub`` offline from a temporary hub cache), each round into a fresh cache folder:
side A with ``processes=N`` (default: the usable cores), side B with one process. Wall time
a round, interleaved; the pool's start is counted (forked processes, one torch thread each).
Clips are ~9.5 s, SpeechTaxi's mean verse (80 h over 28 x 1077 verses).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import base_parser, header, interleave


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=None, help="side A's processes (default: usable cores)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)  # side B's one process gets the one thread each of side A's has
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-speechtaxi-"))
    hub = work / "hub"
    os.environ.update(HF_HUB_CACHE=str(hub), HF_HUB_OFFLINE="1")  # before huggingface_hub reads its constants

    from speech.speechtaxi import decoding_processes, prepare_speechtaxi
    from tests.helpers.speechtaxi_replica import speechtaxi_sized

    languages = ["eng", "rus", "tel", "yor"][: 4 if args.full else 2]
    verses, seconds = (8, 1.0) if args.quick else (150, 9.5) if args.full else (100, 9.5)
    rounds = args.rounds or (1 if args.quick else 4 if args.full else 3)
    processes = args.processes or (2 if args.quick else decoding_processes(None, 10**6))
    speechtaxi_sized(hub, languages=languages, verses=verses, seconds=seconds)
    clips = len(languages) * verses
    lines = header(f"SpeechTaxi preparation: {processes} processes vs 1", args)
    lines.append(f"{clips} clips of {seconds} s ({clips * seconds / 3600:.2f} h of MP3) in {languages}")

    def prepare(n: int):
        def run() -> None:
            cache = work / f"cache-{n}"
            shutil.rmtree(cache, ignore_errors=True)
            prepared = prepare_speechtaxi(languages=languages, cache_dir=cache, processes=n)
            assert len(prepared.items) == clips

        return run

    result = interleave(
        "speechtaxi_prepare", f"processes={processes}", "processes=1", prepare(processes), prepare(1), rounds
    )
    lines += result.lines(quick=args.quick)
    print("\n".join(lines), flush=True)
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return {"ratio": result.median_ratio()}


if __name__ == "__main__":
    main()
