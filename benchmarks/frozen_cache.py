"""Frozen-encoder feature cache: epochs after the first vs recomputing the encoder every epoch.

    python -m benchmarks.frozen_cache [--quick | --full]

Both sides are :class:`speech.model.SpeechClassifier` in ``mode="frozen"`` over the same
randomly initialised wav2vec2-shaped ``HFEncoder`` and the same length-bucketed batches:

- cached: ``cache_dir`` set: the first epoch encodes every clip and writes its frames to
  :class:`speech.cache.EncoderCache` (float16 files); later epochs read them back.
- recompute: ``cache_dir=None``: the encoder runs (under ``no_grad``) every epoch.

Each round trains one epoch of the head on each side (forward, cross-entropy, backward,
AdamW step), interleaved; the ratio is recompute time / cached time per epoch.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import base_parser, header, interleave, load_clips
from benchmarks.models import save_wav2vec2

SETTINGS = {
    "quick": dict(clips=16, size="tiny", rounds=2, tiny=True),
    "default": dict(clips=160, size="small", rounds=3, tiny=False),
    "full": dict(clips=600, size="small", rounds=5, tiny=False),
}


def make_batches(items: list, batch_size: int) -> list[dict]:
    """The data module's batches: decoded clips, length buckets, padded (built once, shared)."""
    from speech.data import AudioDataset, collate_waves
    from workbench.sampling import LengthBucketBatchSampler

    dataset = AudioDataset(items)
    durations = dataset.durations()
    sampler = LengthBucketBatchSampler(
        durations, max_batch_seconds=max(60.0, max(durations)), max_batch_items=batch_size, num_buckets=4, seed=0
    )
    return [collate_waves([dataset[i] for i in batch]) for batch in sampler]


class FrozenSide:
    """A frozen-mode classifier and its optimizer; ``epoch()`` trains the head over ``batches``."""

    def __init__(self, folder: str, num_classes: int, cache_dir: str | None, batches: list[dict]):
        from speech.encoders.hf import HFEncoder
        from speech.model import SpeechClassifier

        self.model = SpeechClassifier(HFEncoder(folder), num_classes=num_classes, mode="frozen", cache_dir=cache_dir)
        self.model.train()
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=1e-3)
        self.batches = batches

    def epoch(self) -> float:
        start = time.perf_counter()
        for batch in self.batches:
            loss = torch.nn.functional.cross_entropy(self.model(batch), batch["label"])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return time.perf_counter() - start

    @torch.no_grad()
    def logits(self) -> torch.Tensor:
        self.model.eval()
        out = torch.cat([self.model(batch) for batch in self.batches])
        self.model.train()
        return out


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="training clips (default by size)")
    parser.add_argument("--size", choices=["tiny", "small"], default=None, help="encoder size (default by size)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    torch.set_num_threads(args.threads)
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from speech.audio import duration_seconds

    lines = header("Frozen-encoder feature cache: cached epochs vs recomputing the encoder", args)
    items, corpus = load_clips(args.data_root, preset["tiny"], None, "train", args.clips or preset["clips"])
    size = args.size or preset["size"]
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        folder = save_wav2vec2(Path(tmp) / "encoder", size, num_labels=len(corpus.label_names))
        batches = make_batches(items, args.batch_size)
        torch.manual_seed(0)
        cached = FrozenSide(folder, len(corpus.label_names), str(Path(tmp) / "cache"), batches)
        torch.manual_seed(0)
        recompute = FrozenSide(folder, len(corpus.label_names), None, batches)
        audio = sum(duration_seconds(i.audio) for i in items)
        lines.append(
            f"data: {len(items)} clips, {audio:.0f} s of audio, {len(batches)} batches; encoder: wav2vec2 '{size}' "
            f"(random init, frozen)"
        )
        # identical heads: the two sides must give the same logits (up to the cache's float16 storage)
        recompute.model.head.load_state_dict(cached.model.head.state_dict())
        fill = cached.epoch()
        cache = cached.model.cache
        lines.append(
            f"first epoch, cached side (encodes {cache.encoder_calls} clips and writes the cache): {fill:.2f} s; "
            f"recompute side warm-up: {recompute.epoch():.2f} s"
        )
        recompute.model.head.load_state_dict(cached.model.head.state_dict())
        diff = (cached.logits() - recompute.logits()).abs().max().item()
        lines.append(f"same outputs: max |logit difference| cached vs recomputed = {diff:.2e} (float16 cache)")
        calls_before = cache.encoder_calls
        result = interleave(
            "frozen_cache_epoch", "cached", "recompute", cached.epoch, recompute.epoch, args.rounds or preset["rounds"]
        )
        lines += result.lines(target=10, unit="s/epoch", quick=args.quick)
        lines.append(
            f"encoder calls in cached epochs after the first: {cache.encoder_calls - calls_before} "
            f"(cache hits {cache.hits}); cached epoch {statistics.median(result.times_a):.3f} s "
            f"vs first (filling) epoch {fill:.2f} s"
        )
    print("\n".join(lines), flush=True)
    return {"ratio": result.median_ratio(), "logit_diff": diff}


if __name__ == "__main__":
    main()
