"""Front-end feature cache: E2E and recognizer training epochs reading cached log-mel vs recomputing it.

    python -m benchmarks.feature_cache [--quick | --full]

Both sides train the embedded default's models from scratch on the same length-bucketed
batches of embedded clips, one epoch per round, interleaved:

- E2E: :class:`speech.model.SpeechClassifier` over ``ConvEncoder(dim=256, num_blocks=6)``
  (``configs/embedded/speech.yaml``), cross-entropy;
- recognizer: :class:`cascade.ctc.CTCRecognizer` over ``ConvEncoder(dim=192, num_blocks=5)``
  (``configs/embedded/asr.yaml``), CTC on romanized transcripts.

``cached``: :class:`speech.features.LogMel` reads the clip's log-mel from
:mod:`speech.feature_cache` (filled by a first epoch that is not timed) and normalises and
augments it; ``recompute``: the cache is off, the spectrogram is computed every step (as
before the cache). Ratio: recompute time / cached time per epoch (epochs 2+).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import base_parser, header, interleave, load_clips

SETTINGS = {
    "quick": dict(clips=16, rounds=2, tiny=True, languages=None),
    "default": dict(clips=192, rounds=3, tiny=False, languages=["eng", "rus"]),
    "full": dict(clips=600, rounds=5, tiny=False, languages=["eng", "rus", "hin"]),
}


def make_batches(items: list, batch_size: int, vocabulary=None) -> list[dict]:
    """The data modules' batches (decoded clips, length buckets); with CTC targets given a vocabulary."""
    from cascade.asr_data import TranscriptDataset, collate_transcripts
    from speech.data import AudioDataset, collate_waves
    from workbench.sampling import LengthBucketBatchSampler

    if vocabulary is None:
        dataset, collate = AudioDataset(items), collate_waves
    else:
        dataset, collate = TranscriptDataset(items, vocabulary, "romanized", 30.0), collate_transcripts
    durations = dataset.durations()
    sampler = LengthBucketBatchSampler(
        durations, max_batch_seconds=max(100.0, max(durations)), max_batch_items=batch_size, num_buckets=4, seed=0
    )
    return [collate([dataset[i] for i in batch]) for batch in sampler]


class Side:
    """A model, its optimizer and its batches; ``epoch()`` trains one epoch with the cache on or off."""

    def __init__(self, model: torch.nn.Module, loss, batches: list[dict], cached: bool):
        self.model, self.loss, self.batches = model.train(), loss, batches
        self.model.encoder.features.cache = cached
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)

    def epoch(self) -> float:
        start = time.perf_counter()
        for batch in self.batches:
            loss = self.loss(self.model, batch)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - start


def e2e_model(num_classes: int):
    from speech.encoders.conv import ConvEncoder
    from speech.model import SpeechClassifier
    from workbench.optim import Optim

    encoder = ConvEncoder(dim=256, num_blocks=6, kernel=11, stride=3, dropout=0.1)
    return SpeechClassifier(encoder, num_classes=num_classes, optim=Optim(lr=3e-3))


def e2e_loss(model, batch: dict) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(batch), batch["label"])


def recognizer_model(vocabulary):
    from cascade.ctc import CTCRecognizer
    from speech.encoders.conv import ConvEncoder

    encoder = ConvEncoder(dim=192, num_blocks=5, kernel=11, stride=3, dropout=0.1)
    return CTCRecognizer(encoder, symbols=vocabulary.symbols[1:])


def recognizer_loss(model, batch: dict) -> torch.Tensor:
    return model.loss(batch)


def compare(name: str, make_model, loss, batches: list[dict], rounds: int, quick: bool) -> tuple[list[str], float]:
    """Fill the cache with one epoch, then interleave cached and recomputing epochs of twin models."""
    torch.manual_seed(0)
    cached = Side(make_model(), loss, batches, cached=True)
    torch.manual_seed(0)
    recompute = Side(make_model(), loss, batches, cached=False)
    fill = cached.epoch()
    cache = cached.model.encoder.features.feature_cache()
    misses = cache.misses
    lines = [
        f"{name}: first epoch of the cached side (computes and writes {misses} clips, reads {cache.hits}): {fill:.2f} s"
    ]
    recompute.epoch()  # its warm-up epoch, untimed too
    result = interleave(f"feature_cache_{name}_epoch", "cached", "recompute", cached.epoch, recompute.epoch, rounds)
    lines += result.lines(target=None, unit="s/epoch", quick=quick)
    lines.append(
        f"  clips computed in the cached epochs after the first: {cache.misses - misses} (hits {cache.hits}); "
        f"cached epoch {statistics.median(result.times_a):.3f} s vs first {fill:.2f} s"
    )
    return lines, result.median_ratio()


def profile_epochs(classes: int, vocabulary, speech_batches: list[dict], asr_batches: list[dict]) -> list[str]:
    """Where one training epoch of each model spends its time (features cached, as in training now)."""
    from benchmarks.profiling import profiled

    lines = []
    for name, model, loss, batches in (
        ("E2E (SpeechClassifier, ConvEncoder d256 x6)", e2e_model(classes), e2e_loss, speech_batches),
        ("recognizer (CTCRecognizer, ConvEncoder d192 x5)", recognizer_model(vocabulary), recognizer_loss, asr_batches),
    ):
        side = Side(model, loss, batches, cached=True)
        side.epoch()  # warm-up (and the cache is filled already)
        table, _, seconds = profiled(side.epoch, row_limit=12, memory=False)
        lines += [f"-- torch.profiler, one training epoch of the {name}: {seconds:.2f} s", table]
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="training clips (default by size)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--profile", action="store_true", help="torch.profiler top ops of one epoch of each model")
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    torch.set_num_threads(args.threads)
    from cascade.asr_text import Vocabulary
    from speech.audio import duration_seconds

    lines = header("Front-end feature cache: training epochs reading cached log-mel vs recomputing it", args)
    limit = args.clips or preset["clips"]
    items, corpus = load_clips(args.data_root, preset["tiny"], preset["languages"], "train", limit)
    vocabulary = Vocabulary.from_texts(item.romanized for item in items)
    audio = sum(duration_seconds(i.audio) for i in items)
    ratios = {}
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        previous = os.environ.get("WORKBENCH_FEATURE_CACHE")
        os.environ["WORKBENCH_FEATURE_CACHE"] = str(Path(tmp) / "features")
        try:
            speech_batches = make_batches(items, args.batch_size)
            asr_batches = make_batches(items, args.batch_size, vocabulary)
            lines.append(
                f"data: {len(items)} clips ({', '.join(sorted({i.language for i in items}))}), {audio:.0f} s of audio, "
                f"{len(speech_batches)} batches of <= {args.batch_size}; threads {torch.get_num_threads()}"
            )
            rounds = args.rounds or preset["rounds"]
            classes = len(corpus.label_names)
            e2e = compare("e2e", lambda: e2e_model(classes), e2e_loss, speech_batches, rounds, args.quick)
            # the recognizer shares the front end, so it finds every clip cached by the E2E side
            asr = compare(
                "recognizer", lambda: recognizer_model(vocabulary), recognizer_loss, asr_batches, rounds, args.quick
            )
            lines += e2e[0] + asr[0]
            ratios = {"e2e": e2e[1], "recognizer": asr[1]}
            if args.profile:
                lines += profile_epochs(classes, vocabulary, speech_batches, asr_batches)
        finally:
            if previous is None:
                os.environ.pop("WORKBENCH_FEATURE_CACHE", None)
            else:
                os.environ["WORKBENCH_FEATURE_CACHE"] = previous
    print("\n".join(lines), flush=True)
    return ratios


if __name__ == "__main__":
    main()
