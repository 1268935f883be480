"""Which encoder layer carries what transfers: one linear probe per layer of a frozen speech encoder.

For every layer the encoder returns (:class:`~speech.encoders.base.EncoderOutput` ``layers``:
the input embedding first, then each block), each clip's frames are mean-pooled over its valid
frames; a logistic-regression probe (scikit-learn, features standardised, the L2 strength chosen
on the source language's dev split) is trained on the source language's training split only and
tested on the source's test split (in-language) and on every other language's (zero-shot). The
items come from the ``zero_shot`` protocol's selection, so no target-language item and no content
tested in any language is ever trained on.

    python -m speech.probe --run_dir runs/embedded-speech            # a speech.fit run, on its data
    python -m speech.probe --encoder speech.encoders.hf.HFEncoder \\
        --encoder.name_or_path facebook/mms-300m --language eng      # a pretrained encoder, embedded data

The out folder (default ``<run_dir>/probe``, or ``runs/probe/<encoder>``) gets ``probe.csv`` (one
row per layer x tested language: accuracy, chance, items) and ``probe.png`` (the accuracy heatmap
layers x languages and, beside it, the run's weighted-layer pooling weights, softmaxed, when it
learned them), both written atomically, and ``features/`` (each split's pooled features, keyed by
the encoder's weights and the items: a rerun skips the encoder).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from speech.cache import weights_fingerprint
from speech.data import AudioDataset, collate_waves
from speech.encoders.base import SpeechEncoder
from speech.pooling import MeanPooling
from workbench.data.sources import CorpusSource
from workbench.errors import ConfigError
from workbench.io import atomic_write_bytes, atomic_write_text
from workbench.items import Corpus, Item
from workbench.languages import language_in
from workbench.protocols import Protocol

CSV, PLOT, FEATURES = "probe.csv", "probe.png", "features"
C_GRID = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths; the source's dev split picks one per layer
MAX_ITER = 2000  # lbfgs iterations: standardised features converge well within this


@dataclass
class Split:
    """Pooled features of one split: ``features (N, L, D)``, ``labels (N,)``."""

    features: np.ndarray
    labels: np.ndarray


# -- what is probed -------------------------------------------------------------------------------------------------
def run_encoder(run_dir: str | Path) -> tuple[SpeechEncoder, np.ndarray | None, dict]:
    """A finished ``speech.fit`` run's encoder (best checkpoint, through :func:`workbench.predictor.load_run`),
    its softmaxed layer weights (None without weighted-layer pooling) and its config (plus its ``record``)."""
    from workbench.predictor import load_run
    from workbench.runs import RunDir

    run = RunDir(run_dir)
    if not run.is_finished():
        raise ConfigError(f"run_dir: '{run_dir}' is not a finished run directory (no run record)")
    predictor = load_run(run_dir)
    record = predictor.record
    if (record.path, record.modality) != ("e2e", "speech"):
        raise ConfigError(f"run_dir: '{run_dir}' is a {record.path} {record.modality} run, not an E2E speech run")
    model = predictor.model
    weights = None if model.mix is None else torch.softmax(model.mix.weights.detach().float(), 0).numpy()
    return model.encoder, weights, {**run.config(), "record": record}


def pooled_layers(encoder: SpeechEncoder, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Every layer's frames mean-pooled over each clip's valid frames: ``(B, L, D)``.

    An encoder without per-layer outputs (ECAPA: its blocks differ in width) gives its last layer only (L = 1).
    """
    out = encoder(waves, lengths)
    layers = out.layers if out.layers is not None else (out.hidden,)
    mean = MeanPooling()
    return torch.stack([mean(layer.float(), out.lengths) for layer in layers], dim=1)


def encoder_digest(encoder: SpeechEncoder) -> str:
    """What the encoder's features depend on: its class, front end, size and weights."""
    key = {**encoder.config_key, "weights": weights_fingerprint(encoder)}
    return hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


@torch.no_grad()
def encode(encoder: SpeechEncoder, items: list[Item], batch_size: int = 16, store: Path | None = None) -> Split:
    """The pooled features of ``items``, read from ``store`` when an earlier call wrote them for this encoder
    from the same audio: keyed by each clip's content hash (the frozen-encoder cache's key), not by its id or
    path, so another corpus (or a rebuilt one) with the same ids and paths never reads these features."""
    path = None
    dataset = AudioDataset(items)
    if store is not None:
        # decoding every clip once more for its key costs ~2 % of an embedded probe (benchmarks/README.md)
        listed = "\n".join(f"{dataset.load(index)[1]}\t{item.label}" for index, item in enumerate(items))
        digest = hashlib.sha1(f"{encoder_digest(encoder)}\n{listed}".encode()).hexdigest()[:20]
        path = store / f"{digest}.npz"
        if path.is_file():
            saved = np.load(path)
            return Split(saved["features"], saved["labels"])
    encoder.eval()  # fixed features: no dropout, SpecAugment or BatchNorm updates
    device = next(encoder.parameters()).device
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate_waves)
    parts = [pooled_layers(encoder, b["waves"].to(device), b["lengths"].to(device)).cpu() for b in loader]
    split = Split(torch.cat(parts).numpy(), np.array([item.label for item in items], dtype=np.int64))
    if path is not None:
        buffer = io.BytesIO()
        np.savez(buffer, features=split.features, labels=split.labels)
        atomic_write_bytes(path, buffer.getvalue())
    return split


# -- which items ----------------------------------------------------------------------------------------------------
def probe_items(corpus: Corpus, language: str, targets: list[str] | None = None) -> dict[str, list[Item]]:
    """``train`` and ``dev`` (the source language's) and ``test:<language>`` for the source (first) and each target.

    The ``zero_shot`` protocol selects them: its training items are the source's only, minus any content
    evaluated in any language. ``targets`` default to every language of the corpus.
    """
    for role, codes in (("language", [language]), ("targets", targets or [])):
        unknown = [code for code in codes if language_in(code, corpus.languages) is None]
        if unknown:
            raise ConfigError(f"{role}: unknown language(s) {unknown}; corpus '{corpus.name}' has {corpus.languages}")
    tested = None if targets is None else [language, *targets]
    selection = Protocol("zero_shot", sources=[language], targets=tested, eval_splits=["test"]).select(corpus)
    source = selection.train_languages[0]
    order = [source, *[lang for lang in selection.test_languages if lang != source]]
    tests = {lang: [item for item in selection["test"] if item.language == lang] for lang in order}
    empty = [lang for lang, items in tests.items() if not items]
    if empty:
        raise ConfigError(f"targets: language(s) {empty} have no test items in corpus '{corpus.name}'")
    return {"train": selection["train"], "dev": selection["dev"], **{f"test:{lang}": tests[lang] for lang in order}}


# -- the probes -----------------------------------------------------------------------------------------------------
def fit_probe(train: tuple[np.ndarray, np.ndarray], dev: tuple[np.ndarray, np.ndarray] | None):
    """A standardised logistic regression on ``train (X (N, D), y (N,))``, ``C`` chosen from :data:`C_GRID` by
    dev accuracy (ties: the stronger regularisation); 1.0 without dev items. Returns ``(probe, C)``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fitted(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER)).fit(*train)

    if dev is None or not len(dev[1]):
        return fitted(1.0), 1.0
    return max(((fitted(c), c) for c in C_GRID), key=lambda pair: (pair[0].score(*dev), -pair[1]))


def majority_share(labels: np.ndarray) -> float:
    """The accuracy of always answering the split's most frequent class: the chance level reported."""
    return float(np.bincount(labels).max() / len(labels))


def probe_layers(train: Split, dev: Split | None, tests: dict[str, Split], source: str) -> pd.DataFrame:
    """One probe per layer, trained on ``train``; its accuracy on each tested language's split.

    Returns one row per layer x language: ``layer, language, setting`` (``in_language`` for ``source``,
    else ``zero_shot``), ``accuracy, chance, items, train_items, C``.
    """
    rows = []
    for layer in range(train.features.shape[1]):
        dev_xy = None if dev is None else (dev.features[:, layer], dev.labels)
        probe, c = fit_probe((train.features[:, layer], train.labels), dev_xy)
        for language, split in tests.items():
            rows.append(
                {
                    "layer": layer,
                    "language": language,
                    "setting": "in_language" if language == source else "zero_shot",
                    "accuracy": float(probe.score(split.features[:, layer], split.labels)),
                    "chance": majority_share(split.labels),
                    "items": len(split.labels),
                    "train_items": len(train.labels),
                    "C": c,
                }
            )
    return pd.DataFrame(rows)


# -- the figure -----------------------------------------------------------------------------------------------------
def plot(frame: pd.DataFrame, layer_weights: np.ndarray | None, title: str, no_weights: str) -> bytes:
    """PNG bytes: the accuracy (%) heatmap layers x languages (source first) and the layer weights panel
    (``no_weights`` says why there are none)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: headless machines
    import matplotlib.pyplot as plt

    order = list(dict.fromkeys(frame["language"]))
    matrix = frame.pivot(index="layer", columns="language", values="accuracy")[order]
    settings = frame.groupby("language")["setting"].first()
    labels = [f"{lang}\n(in-lang.)" if settings[lang] == "in_language" else lang for lang in order]
    rows, cols = matrix.shape
    fig, (ax, side) = plt.subplots(
        1, 2, figsize=(3.4 + 0.75 * cols, 1.8 + 0.45 * rows), width_ratios=[max(cols, 2), 2.2], sharey=True
    )
    values = matrix.to_numpy(float)
    image = ax.imshow(100 * values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(cols), labels, fontsize=8)
    ax.set_yticks(range(rows), [str(layer) for layer in matrix.index])
    ax.set_ylabel("layer (0: input embedding)")
    ax.set_title(title, fontsize=9)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", color="w" if value < 0.6 else "k", fontsize=8)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, label="probe accuracy (%)")
    chance = 100 * frame["chance"].mean()
    bar.ax.axhline(chance, color="r", linewidth=2)
    bar.ax.text(1.1, chance, "chance", va="center", fontsize=7, transform=bar.ax.get_yaxis_transform())
    if layer_weights is not None and len(layer_weights) == rows:
        side.barh(range(rows), layer_weights, color="tab:orange")
        side.axvline(1 / rows, color="0.3", linestyle="--", linewidth=1)  # the uniform weights it starts from
        side.set_xlabel("softmax weight")
        side.set_title("learned layer weights", fontsize=9)
    else:
        side.text(0.5, 0.5, no_weights, ha="center", va="center", wrap=True, fontsize=8, transform=side.transAxes)
        side.set_xticks([])
        side.set_title("layer weights", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


# -- the program ----------------------------------------------------------------------------------------------------
def probe(
    encoder: SpeechEncoder,
    corpus: Corpus,
    language: str,
    out: str | Path,
    targets: list[str] | None = None,
    layer_weights: np.ndarray | None = None,
    no_weights: str = "no weighted-layer pooling",
    batch_size: int = 16,
) -> pd.DataFrame:
    """Probe every layer of the frozen ``encoder``; write ``probe.csv`` and ``probe.png`` to ``out``."""
    out = Path(out)
    encoder.requires_grad_(False)
    items = probe_items(corpus, language, targets)
    splits = {name: encode(encoder, chosen, batch_size, out / FEATURES) for name, chosen in items.items() if chosen}
    tests = {name.split(":", 1)[1]: split for name, split in splits.items() if name.startswith("test:")}
    source = next(iter(tests))
    frame = probe_layers(splits["train"], splits.get("dev"), tests, source)
    atomic_write_text(out / CSV, frame.to_csv(index=False, float_format="%.4f"))
    title = f"{type(encoder).__name__}: linear probes trained on {source} ({len(items['train'])} clips)"
    atomic_write_bytes(out / PLOT, plot(frame, layer_weights, title, no_weights))
    return frame


def default_out(run_dir: str | None, encoder: SpeechEncoder) -> Path:
    """``<run_dir>/probe``, or ``runs/probe/<encoder class>-<its model name or folder>``."""
    if run_dir:
        return Path(run_dir) / "probe"
    preprocess = encoder.preprocess_config
    name = Path(str(preprocess.get("name_or_path") or preprocess.get("name") or "")).name
    return Path("runs/probe") / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{type(encoder).__name__}-{name}".strip("-"))


def parser():
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(prog="python -m speech.probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", action=ActionConfigFile, help="a YAML config of these arguments")
    parser.add_argument("--run_dir", type=str | None, default=None, help="a finished speech.fit run to probe")
    parser.add_subclass_arguments(
        SpeechEncoder, "encoder", required=False, help="or an encoder to probe (as a config's model.encoder)"
    )
    parser.add_subclass_arguments(
        CorpusSource, "source", required=False, help="the corpus (default: the run's data.source, else embedded)"
    )
    parser.add_argument(
        "--language", type=str | None, default=None, help="the probe's training language (default: the run's, or eng)"
    )
    parser.add_argument("--targets", type=list[str] | None, default=None, help="tested languages (default: all)")
    parser.add_argument("--out", type=str | None, default=None, help="folder of probe.csv and probe.png")
    parser.add_argument("--batch_size", type=int, default=16, help="clips encoded at once")
    parser.add_argument("--device", type=str, default="auto", help="cpu, cuda, ... (auto: cuda when available)")
    parser.add_argument("--threads", type=int | None, default=None, help="torch CPU threads (None: torch's choice)")
    return parser


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Parse ``argv`` (default ``sys.argv[1:]``), probe, print each language's best layer; returns probe.csv's rows."""
    from speech.sources import Embedded
    from workbench.predictor import instantiate

    parser_ = parser()
    config = parser_.parse_args(sys.argv[1:] if argv is None else argv)
    if bool(config.run_dir) == bool(config.encoder):
        raise ConfigError("speech.probe: give exactly one of --run_dir (a speech.fit run) and --encoder")
    if config.threads:
        torch.set_num_threads(config.threads)
    objects = parser_.instantiate_classes(config)
    encoder, source, language, weights = objects.encoder, objects.source, config.language, None
    no_weights = "a pretrained encoder:\nno learned layer weights"
    if config.run_dir:
        encoder, weights, run_config = run_encoder(config.run_dir)
        no_weights = "this run learned no layer weights\n(model.layer_weighting: false)"
        source = source or instantiate(run_config["data"]["source"])
        language = language or run_config["record"].protocol.sources[0]
    source, language = source or Embedded(root="data"), language or "eng"
    encoder.to(
        "cuda" if config.device == "auto" and torch.cuda.is_available() else config.device.replace("auto", "cpu")
    )
    corpus = source.load_for(Protocol("zero_shot", sources=[language], targets=config.targets))
    out = Path(config.out) if config.out else default_out(config.run_dir, encoder)
    frame = probe(encoder, corpus, language, out, config.targets, weights, no_weights, config.batch_size)
    best = frame.loc[frame.groupby("language", sort=False)["accuracy"].idxmax(), ["language", "layer", "accuracy"]]
    print(best.to_string(index=False))
    print(f"probe written to {out / CSV} and {out / PLOT}")
    return frame


if __name__ == "__main__":
    from speech import probe as module  # the module's own classes, not __main__'s copies, as jsonargparse's subclasses
    from workbench.program import entry

    entry(module.main)
