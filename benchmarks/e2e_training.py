"""E2E fine-tuning throughput: this project's training step vs a Hugging Face ``Trainer`` baseline.

    python -m benchmarks.e2e_training [--quick | --full]

Both sides train the same randomly initialised wav2vec2-shaped encoder (one folder saved
with ``save_pretrained``; CNN feature encoder frozen on both sides, as both recipes do) on
the same embedded-corpus clips, one epoch per round, interleaved (ours, HF, HF, ours, ...),
with the same number of clips per batch, learning rate and torch threads:

- ours: :class:`speech.model.SpeechClassifier` (``HFEncoder`` + mean/max pooling + linear
  head) in a Lightning ``Trainer``, batches from :class:`speech.data.SpeechDataModule`
  (:class:`workbench.sampling.LengthBucketBatchSampler`: clips of similar duration together,
  each clip decoded when its batch is read, normalisation on the padded tensor inside the model).
- baseline: the ``run_audio_classification`` recipe: ``AutoModelForAudioClassification``
  + ``Trainer``, random batches, each clip decoded on access and run through the
  ``Wav2Vec2FeatureExtractor`` in the collator every epoch, padding to the longest clip of
  the batch (``--baseline-padding max_length``: to the longest clip of the corpus).

It prints audio seconds trained per second, the padding share, the per-round ratio, then a
``torch.profiler`` pass over one epoch of each side: the top ops by self CPU time and the
peak of live tensor memory (torch's CPU memory timeline).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import base_parser, header, interleave, load_clips, timing_trainer
from benchmarks.models import save_wav2vec2
from benchmarks.profiling import profiled
from workbench.optim import Optim

SETTINGS = {  # clips, encoder size, rounds
    "quick": dict(clips=24, size="tiny", rounds=2, tiny=True, buckets=2, profile_batches=1),
    "default": dict(clips=160, size="small", rounds=3, tiny=False, buckets=8, profile_batches=None),
    "full": dict(clips=600, size="small", rounds=5, tiny=False, buckets=8, profile_batches=None),
}
LR = 1e-4


class PaddingMeter:
    """Counts valid and padded samples of the batches one side trains on."""

    def __init__(self):
        self.valid = self.total = self.batches = 0

    def add(self, valid: int, total: int) -> None:
        self.valid, self.total, self.batches = self.valid + valid, self.total + total, self.batches + 1

    def share(self) -> float:
        return 1 - self.valid / self.total if self.total else 0.0


# -- ours ------------------------------------------------------------------------------------
class Ours:
    """SpeechClassifier + SpeechDataModule (length buckets) in a Lightning Trainer."""

    def __init__(self, folder: str, items: list, label_names: list[str], batch_size: int, buckets: int):
        import lightning as L

        from speech.data import SpeechDataModule
        from speech.encoders.hf import HFEncoder
        from speech.model import SpeechClassifier
        from workbench.data.sources import CorpusSource
        from workbench.items import Corpus
        from workbench.protocols import Protocol

        class ItemsSource(CorpusSource):
            def load(self):
                return Corpus(list(items), label_names, name="benchmark")

        self.L = L
        encoder = HFEncoder(folder)
        # transformers' from_pretrained leaves the model in eval mode and Lightning (>= 2.2) does not
        # switch submodules to train mode, so as shipped the encoder trains without dropout (and
        # SDPA then takes its fast no-dropout kernel). The baseline's Trainer calls model.train():
        # put ours in train mode too so both sides do the same computation.
        encoder.model.train()
        self.model = SpeechClassifier(
            encoder, num_classes=len(label_names), mode="full", cache_dir=None, optim=Optim(lr=LR), system="bench"
        )
        # batches bounded by clip count only, like the baseline's fixed batch size (same number of steps)
        self.data = SpeechDataModule(
            ItemsSource(),
            Protocol("all_languages"),
            batch_size=batch_size,
            max_batch_seconds=1e9,
            num_buckets=buckets,
            seed=0,
        )
        self.padding = PaddingMeter()

    def epoch(self, limit_batches: int | None = None) -> float:
        """Train one epoch; return its seconds (Trainer set-up excluded)."""
        meter, timer = self.padding, {}

        class Timer(self.L.Callback):
            def on_train_epoch_start(self, trainer, module):
                timer["start"] = time.perf_counter()

            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                meter.add(int(batch["lengths"].sum()), batch["waves"].numel())

            def on_train_epoch_end(self, trainer, module):
                timer["end"] = time.perf_counter()

        trainer = timing_trainer(Timer(), limit_train_batches=limit_batches or 1.0)
        trainer.fit(self.model, datamodule=self.data)
        return timer["end"] - timer["start"]


# -- baseline ----------------------------------------------------------------------------------
class RawAudio(torch.utils.data.Dataset):
    """The recipe's dataset: each access decodes the file (``datasets.Audio`` does the same)."""

    def __init__(self, items: list):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        from speech.audio import load_audio

        item = self.items[index]
        return {"audio": load_audio(item.audio, where=item.id), "label": item.label}


class Baseline:
    """``AutoModelForAudioClassification`` + ``Trainer``, feature extractor in the collator."""

    def __init__(self, folder: str, items: list, num_labels: int, batch_size: int, padding: str, work: Path):
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        from speech.audio import duration_seconds

        self.extractor = AutoFeatureExtractor.from_pretrained(folder)
        self.model = AutoModelForAudioClassification.from_pretrained(folder, num_labels=num_labels)
        self.model.freeze_feature_encoder()  # the recipe's default (--freeze_feature_encoder True)
        self.dataset, self.batch_size, self.work = RawAudio(items), batch_size, work
        self.max_length = int(max(duration_seconds(i.audio) for i in items) * 16000) + 1
        self.padding_mode = padding
        self.padding = PaddingMeter()

    def collate(self, rows: list[dict]) -> dict:
        kwargs = {"max_length": self.max_length, "truncation": True} if self.padding_mode == "max_length" else {}
        feats = self.extractor(
            [r["audio"] for r in rows],
            sampling_rate=16000,
            padding=self.padding_mode,
            return_attention_mask=True,
            return_tensors="pt",
            **kwargs,
        )
        self.padding.add(int(feats["attention_mask"].sum()), feats["input_values"].numel())
        return {**feats, "label": torch.tensor([r["label"] for r in rows])}

    def epoch(self, limit_batches: int | None = None) -> float:
        from transformers import Trainer, TrainerCallback, TrainingArguments

        timer = {}

        class Timer(TrainerCallback):
            def on_epoch_begin(self, args, state, control, **kwargs):
                timer["start"] = time.perf_counter()

            def on_epoch_end(self, args, state, control, **kwargs):
                timer["end"] = time.perf_counter()

            def on_train_end(self, args, state, control, **kwargs):
                timer.setdefault("end", time.perf_counter())

        args = TrainingArguments(
            output_dir=str(self.work / "hf"),
            per_device_train_batch_size=self.batch_size,
            num_train_epochs=1,
            max_steps=limit_batches or -1,
            learning_rate=LR,
            weight_decay=0.01,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
            eval_strategy="no",
            dataloader_num_workers=0,
            remove_unused_columns=False,
            disable_tqdm=True,
            seed=0,
        )
        trainer = Trainer(
            model=self.model, args=args, train_dataset=self.dataset, data_collator=self.collate, callbacks=[Timer()]
        )
        trainer.train()
        return timer["end"] - timer["start"]


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="training clips (default by size)")
    parser.add_argument("--size", choices=["tiny", "small"], default=None, help="encoder size (default by size)")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per batch, both sides")
    parser.add_argument("--buckets", type=int, default=None, help="ours: duration buckets (default by size)")
    parser.add_argument(
        "--as-shipped",
        action="store_true",
        help="ours: keep the encoder in the eval mode from_pretrained leaves it in (no dropout)",
    )
    parser.add_argument("--baseline-padding", choices=["longest", "max_length"], default="longest")
    parser.add_argument("--no-profile", action="store_true", help="skip the torch.profiler pass")
    parser.add_argument("--profile-batches", type=int, default=None, help="batches profiled per side (default all)")
    args = parser.parse_args(argv)
    preset = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    torch.set_num_threads(args.threads)
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "transformers", "workbench", "speech"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from speech.audio import duration_seconds

    lines = header("E2E fine-tuning throughput: ours vs HF Trainer", args)
    items, corpus = load_clips(args.data_root, preset["tiny"], None, "train", args.clips or preset["clips"])
    audio_seconds = sum(duration_seconds(i.audio) for i in items)
    size = args.size or preset["size"]
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        folder = save_wav2vec2(Path(tmp) / "encoder", size, num_labels=len(corpus.label_names))
        ours = Ours(folder, items, corpus.label_names, args.batch_size, args.buckets or preset["buckets"])
        if args.as_shipped:
            ours.model.encoder.model.eval()
        base = Baseline(folder, items, len(corpus.label_names), args.batch_size, args.baseline_padding, Path(tmp))
        params = sum(p.numel() for p in ours.model.encoder.parameters())
        lines.append(
            f"data: {len(items)} clips, {audio_seconds:.0f} s of audio, {len(corpus.languages)} languages; "
            f"encoder: wav2vec2 '{size}' ({params / 1e6:.2f} M params, random init); batch {args.batch_size} clips"
        )
        # warm-up epoch each (untimed in the ratio): imports, first calls, and ours' one-off decoding
        warm_ours, warm_base = ours.epoch(), base.epoch()
        lines.append(
            f"first epoch (not in the ratio): ours {warm_ours:.2f} s (decodes each clip once), HF {warm_base:.2f} s"
        )
        ours.padding, base.padding = PaddingMeter(), PaddingMeter()
        result = interleave(
            "e2e_training_epoch", "ours", "hf_trainer", ours.epoch, base.epoch, args.rounds or preset["rounds"]
        )
        lines += result.lines(target=1.5, unit="s/epoch", quick=args.quick)
        rounds = len(result.times_a)
        med_ours, med_base = statistics.median(result.times_a), statistics.median(result.times_b)
        lines.append(
            f"throughput: ours {audio_seconds / med_ours:.1f} audio s/s, HF Trainer {audio_seconds / med_base:.1f} "
            f"audio s/s; padded share of the batches: ours {ours.padding.share():.1%}, "
            f"HF {base.padding.share():.1%} ({args.baseline_padding}); batches per epoch: "
            f"ours {ours.padding.batches / rounds:.0f}, HF {base.padding.batches / rounds:.0f}"
        )
        report = {
            "ratio": result.median_ratio(),
            "ours_audio_s_per_s": audio_seconds / med_ours,
            "hf_audio_s_per_s": audio_seconds / med_base,
        }
        if not args.no_profile:
            lines += profile_both(ours, base, args.profile_batches or preset["profile_batches"], report)
    print("\n".join(lines), flush=True)
    return report


def profile_both(ours: Ours, base: Baseline, batches: int | None, report: dict) -> list[str]:
    lines = []
    peaks = {}
    for name, side in (("ours", ours), ("hf_trainer", base)):
        table, peak, seconds = profiled(lambda side=side: side.epoch(batches))
        peaks[name] = peak
        lines.append(
            f"-- torch.profiler, {name}: one epoch{f' ({batches} batches)' if batches else ''}, "
            f"{seconds:.1f} s profiled; peak live tensor memory "
            f"{'n/a' if peak is None else f'{peak / 2**20:.1f} MiB'}"
        )
        lines.append(table)
    if peaks["ours"] and peaks["hf_trainer"]:
        ratio = peaks["hf_trainer"] / peaks["ours"]
        report["memory_ratio"] = ratio
        lines.append(f"RATIO e2e_training_peak_memory: {ratio:.2f}x less peak tensor memory, ours vs hf_trainer")
    return lines


if __name__ == "__main__":
    main()
