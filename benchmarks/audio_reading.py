"""Training throughput when clips are read at each batch vs kept decoded in memory.

    python -m benchmarks.audio_reading [--quick | --full] [--workers N]

Both sides train the embedded default's E2E model (``configs/embedded/speech.yaml``: a
ConvEncoder d192 x 5 over 40-bin log-mel, mean+max pooling) through a Lightning
``Trainer`` on the same embedded clips, with the same batches (``SpeechDataModule``'s
length buckets, seed 0) and the same DataLoader workers, interleaved round by round:

- reading: :class:`speech.data.AudioDataset`, which decodes each clip from its 16 kHz FLAC
  file whenever a batch needs it (memory independent of the corpus size);
- in memory: the previous loader, which kept every decoded clip (and its hash) in each
  process that read it, so from the second epoch on a clip costs a dictionary look-up.

A round is one ``fit`` of ``epochs`` epochs per side; the time counted is that of the
epochs after the first (the in-memory side's best case: everything already decoded). It
prints clips trained per second, the per-round ratio and the ``RATIO`` line (target 0.9x).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import base_parser, header, interleave, load_clips, size_of, timing_trainer
from speech.data import AudioDataset, SpeechDataModule

SETTINGS = {
    "quick": dict(tiny=True, languages=None, epochs=2, rounds=2),
    "default": dict(tiny=False, languages=["eng"], epochs=3, rounds=3),
    "full": dict(tiny=False, languages=["eng", "rus"], epochs=4, rounds=5),
}
TARGET = 0.9  # the reading loader may cost at most 10 % of the training throughput


class InMemoryAudioDataset(AudioDataset):
    """The previous loader: each process keeps every clip it has decoded, with its hash."""

    def __init__(self, items: list, max_seconds: float | None = 30.0):
        super().__init__(items, max_seconds)
        self._waves: dict[int, tuple[np.ndarray, str]] = {}

    def load(self, index: int) -> tuple[np.ndarray, str]:
        if index not in self._waves:
            self._waves[index] = super().load(index)
        return self._waves[index]


class Side:
    """One loader's model and data; ``epochs()`` fits and returns the seconds of the epochs after the first."""

    def __init__(self, items: list, label_names: list[str], dataset_class: type, workers: int, epochs: int):
        from workbench.data.sources import CorpusSource
        from workbench.items import Corpus
        from workbench.protocols import Protocol

        class ItemsSource(CorpusSource):
            def load(self):
                return Corpus(list(items), label_names, name="benchmark")

        class Data(SpeechDataModule):
            def make_dataset(self, split_items: list, train: bool) -> AudioDataset:
                return dataset_class(split_items, self.max_seconds)

        # the embedded config's batches: 32 clips, 120 s of audio at most
        self.data = Data(ItemsSource(), Protocol("all_languages"), 32, workers, 120.0, seed=0)
        self.label_names, self.epochs_per_fit, self.clips = label_names, epochs, len(items)

    def model(self):
        from speech.encoders.conv import ConvEncoder
        from speech.model import SpeechClassifier
        from speech.pooling import MeanMaxPooling
        from workbench.optim import Optim

        encoder = ConvEncoder(dim=192, num_blocks=5, kernel=11, stride=3, dropout=0.1)
        return SpeechClassifier(
            encoder, len(self.label_names), MeanMaxPooling(), cache_dir=None, optim=Optim(lr=3e-3), system="bench"
        )

    def epochs(self) -> float:
        import lightning as L

        marks = []

        class Timer(L.Callback):
            def on_train_epoch_end(self, trainer, module):
                marks.append(time.perf_counter())

        trainer = timing_trainer(Timer(), max_epochs=self.epochs_per_fit)
        trainer.fit(self.model(), datamodule=self.data)
        self.data._datasets.clear()  # the next fit starts from fresh datasets (nothing decoded yet)
        return marks[-1] - marks[0]


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (the embedded config: 0)")
    args = parser.parse_args()
    settings = SETTINGS[size_of(args)]
    import torch

    torch.set_num_threads(args.threads)
    items, corpus = load_clips(args.data_root, settings["tiny"], settings["languages"], "train", None)
    epochs = settings["epochs"]
    sides = {
        name: Side(items, corpus.label_names, cls, args.workers, epochs)
        for name, cls in (("reading", AudioDataset), ("in-memory", InMemoryAudioDataset))
    }
    counted = len(items) * (epochs - 1)
    result = interleave(
        "training_throughput",
        "reading",
        "in-memory",
        sides["reading"].epochs,
        sides["in-memory"].epochs,
        args.rounds or settings["rounds"],
    )
    lines = header("audio reading", args)
    lines.append(
        f"{len(items)} training clips, {args.workers} DataLoader workers, {epochs} epochs a fit, "
        f"{counted} clips timed per round (epochs 2-{epochs})"
    )
    for name, times in (("reading", result.times_a), ("in-memory", result.times_b)):
        lines.append(f"  {name}: {', '.join(f'{counted / t:.1f}' for t in times)} clips/s")
    lines += result.lines(target=TARGET, quick=args.quick)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
