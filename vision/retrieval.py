"""Multilingual image-text retrieval: recall@1/5/10 image -> text and text -> image, per language.

The standard evaluation of multilingual CLIP models (Crossmodal-3600, Thapliyal et al. 2022):
within one language, every image is a query over that language's captions (a hit when one of
its own captions ranks in the top k) and every caption a query over the images (a hit when an
image it was written for ranks in the top k). Identical captions are one gallery entry, relevant
to every image they describe (the embedded digits' class-name captions). Ranking is by cosine of
the unit embeddings (a CLIP's logit scale and a SigLIP's bias do not change the order); ties go
to the earlier gallery entry.

    python -m vision.retrieval -c configs/retrieval/embedded.yaml                    # offline, CPU
    python -m vision.retrieval -c configs/retrieval/xm3600.yaml [-c configs/retrieval/nllb.yaml]

The model is any open_clip model :func:`vision.model.load_clip` builds (``model.model_name`` /
``pretrained``), or a fitted ``vision.fit`` run's checkpoint (``model.checkpoint``). The run
directory gets ``retrieval.json`` (written atomically after each language: a killed run resumes
at the next language) and ``retrieval.md`` (the report section: one row per language).
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from vision.datamodule import open_image
from vision.model import TokenizerName, load_clip
from vision.prompts import tokenize
from workbench.data.sources import CorpusSource
from workbench.errors import ConfigError, DataError
from workbench.io import atomic_write_json, atomic_write_text, read_json
from workbench.items import SPLITS

KS = (1, 5, 10)  # recall@k reported, as in the XM3600 and multilingual CLIP papers
DIRECTIONS = ("image_to_text", "text_to_image")
RESULTS, REPORT = "retrieval.json", "retrieval.md"
SCHEMA = 1  # bumped when a field of retrieval.json changes meaning


# -- the metric -----------------------------------------------------------------------------------------------------
def recall_at_k(scores: torch.Tensor, relevant: torch.Tensor, ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Share of queries with a relevant gallery entry among their ``k`` best, for each ``k``.

    Args:
        scores: ``[Q, G]`` similarity of each query to each gallery entry (higher is closer).
        relevant: ``[Q, G]`` bool; every query needs at least one relevant entry.

    Example:
        >>> recall_at_k(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([[True, False], [True, False]]), (1, 2))
        {'R@1': 0.5, 'R@2': 1.0}
    """
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and relevant {tuple(relevant.shape)} differ in shape")
    if not bool(relevant.any(dim=1).all()):
        raise ValueError("a query has no relevant gallery entry")
    order = scores.argsort(dim=1, descending=True, stable=True)
    ranked = relevant.gather(1, order)  # relevance in rank order
    return {f"R@{k}": ranked[:, :k].any(dim=1).float().mean().item() for k in ks}


# -- the data -------------------------------------------------------------------------------------------------------
@dataclass
class CaptionSet:
    """One language's images and the captions written for them (caption ``j`` describes image ``image_of[j]``)."""

    language: str
    images: list[str]  # paths
    captions: list[str]
    image_of: list[int]

    def gallery(self) -> tuple[list[str], torch.Tensor]:
        """``(distinct captions, relevant [T, I])``: a caption text is relevant to every image it describes."""
        texts = list(dict.fromkeys(self.captions))
        row = {text: i for i, text in enumerate(texts)}
        relevant = torch.zeros(len(texts), len(self.images), dtype=torch.bool)
        for caption, image in zip(self.captions, self.image_of, strict=True):
            relevant[row[caption], image] = True
        return texts, relevant


class CaptionSource:
    """Where captioned images come from: :meth:`load` gives one :class:`CaptionSet` per language."""

    def load(self) -> list[CaptionSet]:
        raise NotImplementedError

    def describe(self) -> dict:
        """What the run record says the data was."""
        return {"source": type(self).__name__, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}


class CorpusCaptions(CaptionSource):
    """A workbench image corpus (the embedded text images, the digits...) with each item's text as its caption.

    Args:
        source: the corpus (``class_path``: ``vision.text_images.EmbeddedTextImages``...).
        splits: the items retrieved among (default the test split).
        languages: the languages evaluated (default every language of the corpus).
        max_images: keep the first this many images per language (None: all).
    """

    def __init__(
        self,
        source: CorpusSource,
        splits: list[str] | None = None,
        languages: list[str] | None = None,
        max_images: int | None = None,
    ):
        self.splits = list(splits or ["test"])
        for split in self.splits:
            if split not in SPLITS:
                raise ConfigError(f"data.splits: unknown split '{split}' (known: {list(SPLITS)})")
        self._source, self.languages, self.max_images = source, languages, max_images
        self.corpus = type(source).__name__

    def load(self) -> list[CaptionSet]:
        corpus = self._source.load()
        languages = self.languages or corpus.languages
        sets = []
        for language in languages:
            items = [i for i in corpus.items if i.language == language and i.split in self.splits]
            items = items[: self.max_images] if self.max_images else items
            if not items:
                raise ConfigError(f"data.languages: no '{language}' items in splits {self.splits} of {corpus.name}")
            for item in items:
                if not item.text:
                    raise DataError(f"item '{item.id}'", "text", "no caption (text) to retrieve")
            texts = [item.text for item in items]
            sets.append(CaptionSet(language, [item.image for item in items], texts, list(range(len(items)))))
        return sets


# -- the model ------------------------------------------------------------------------------------------------------
@dataclass
class ClipSpec:
    """The open_clip model to evaluate.

    Args:
        model_name: open_clip architecture (``xlm-roberta-base-ViT-B-32``, ``nllb-clip-base``,
            ``ViT-B-16-SigLIP-i18n-256``...), ``local-dir:<folder>`` or ``hf-hub:<id>``.
        pretrained: its pretrained tag (``laion5b_s13b_b90k``, ``v1``, ``webli``) or a weights file.
        tokenizer: ``model`` (its own) or ``bytes`` (the small byte-level towers).
        architecture: an architecture dict registered under ``model_name`` first.
        context_length: overrides the text context length (tokens).
        checkpoint: a ``vision.fit`` checkpoint (``<run>/checkpoints/best.ckpt``): its fitted model
            instead of the fields above.
    """

    model_name: str = "wb-tiny-bytes"
    pretrained: str | None = None
    tokenizer: TokenizerName = "model"
    architecture: dict | None = None
    context_length: int | None = None
    checkpoint: str | None = None


class Encoder:
    """Unit image and text embeddings of one open_clip model (fitted or as published)."""

    def __init__(self, spec: ClipSpec):
        if spec.checkpoint:
            from vision.module import VisionCLIP

            if not Path(spec.checkpoint).is_file():
                raise ConfigError(f"model.checkpoint: file not found: '{spec.checkpoint}'")
            module = VisionCLIP.load_from_checkpoint(spec.checkpoint, map_location="cpu", weights_only=True)
            self.model, self.tokenizer, self.transform = module.clip, module.tokenizer, module.preprocess_val
        else:
            bundle = load_clip(
                spec.model_name, spec.pretrained, spec.tokenizer, spec.context_length, architecture=spec.architecture
            )
            self.model, self.tokenizer, self.transform = bundle.model, bundle.tokenizer, bundle.preprocess_val
        self.model.eval()
        size = getattr(self.model.visual, "image_size", None)
        self.size = (size, size) if isinstance(size, int) else tuple(size) if size else None

    @torch.no_grad()
    def images(self, paths: list[str], batch_size: int) -> torch.Tensor:
        """Image files -> ``[N, D]`` unit embeddings (the model's own evaluation transform)."""
        out = []
        for start in range(0, len(paths), batch_size):
            batch = [
                self.transform(open_image(p, f"image '{p}'", self.size)) for p in paths[start : start + batch_size]
            ]
            out.append(self.model.encode_image(torch.stack(batch), normalize=True))
        return torch.cat(out)

    @torch.no_grad()
    def texts(self, texts: list[str], language: str, batch_size: int) -> torch.Tensor:
        """Captions of ``language`` -> ``[N, D]`` unit embeddings (NLLB towers get the language's token)."""
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            out.append(self.model.encode_text(tokenize(self.tokenizer, chunk, [language] * len(chunk)), normalize=True))
        return torch.cat(out)


def evaluate_set(encoder: Encoder, caption_set: CaptionSet, batch_size: int) -> dict:
    """Recall@k both ways for one language (the ``languages`` entry of ``retrieval.json``)."""
    texts, relevant = caption_set.gallery()
    image = encoder.images(caption_set.images, batch_size)
    text = encoder.texts(texts, caption_set.language, batch_size)
    scores = text @ image.T  # [T, I] cosines
    return {
        "images": len(caption_set.images),
        "texts": len(texts),
        "image_to_text": recall_at_k(scores.T, relevant.T),
        "text_to_image": recall_at_k(scores, relevant),
    }


# -- the report section ---------------------------------------------------------------------------------------------
def render(results: dict) -> str:
    """The markdown section: one row per language and the mean over languages, recall in %."""
    head = " | ".join(f"{'I->T' if d == 'image_to_text' else 'T->I'} R@{k}" for d in DIRECTIONS for k in KS)
    model = results["record"]["model"]
    name = model["checkpoint"] or f"{model['model_name']}/{model['pretrained']}"
    lines = [
        f"## Image-text retrieval: `{name}`",
        "",
        "Recall@k (%) within each language: image -> its captions, caption -> its images.",
        "",
        f"| language | images | captions | {head} |",
        "|---|---|---|" + "---|" * (2 * len(KS)),
    ]
    rows = dict(results["languages"])
    if "mean" in results:
        rows["mean"] = {"images": "", "texts": "", **results["mean"]}
    for language, row in rows.items():
        cells = [f"{100 * row[d][f'R@{k}']:.1f}" for d in DIRECTIONS for k in KS]
        lines.append(f"| {language} | {row['images']} | {row['texts']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def mean_over_languages(languages: dict) -> dict:
    return {
        d: {f"R@{k}": sum(row[d][f"R@{k}"] for row in languages.values()) / len(languages) for k in KS}
        for d in DIRECTIONS
    }


# -- the program ----------------------------------------------------------------------------------------------------
def default_run_dir(model: ClipSpec, data: CaptionSource) -> Path:
    """``runs/retrieval/<data source>-<model>``: one folder per model and data, so resuming never mixes them."""
    name = Path(model.checkpoint).parent.parent.name if model.checkpoint else f"{model.model_name}-{model.pretrained}"
    return Path("runs/retrieval") / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{type(data).__name__}-{name}")


def run(model: ClipSpec, data: CaptionSource, run_dir: str | None = None, batch_size: int = 64) -> dict:
    """Evaluate every language of ``data`` (skipping those a killed run already wrote) and write the run."""
    from workbench.record import git_commit, package_version

    folder = Path(run_dir) if run_dir else default_run_dir(model, data)
    path = folder / RESULTS
    record = {"program": "vision.retrieval", "schema": SCHEMA, "model": asdict(model), "data": data.describe()}
    results = {"record": record, "languages": {}}
    if path.is_file():
        done = read_json(path)
        if done.get("record", {}).get("model") != record["model"] or done["record"].get("data") != record["data"]:
            raise ConfigError(f"run_dir: '{folder}' holds a retrieval run of another model or data; pick another")
        results["languages"] = done["languages"]
    record.update(version=package_version(), commit=git_commit())
    torch.manual_seed(0)  # a model with random weights (the chance floor) is the same model when resumed
    encoder = Encoder(model)
    for caption_set in data.load():
        if caption_set.language in results["languages"]:
            continue
        results["languages"][caption_set.language] = evaluate_set(encoder, caption_set, batch_size)
        results.pop("mean", None)
        atomic_write_json(path, results)
    results["mean"] = mean_over_languages(results["languages"])
    atomic_write_text(folder / REPORT, render(results))
    atomic_write_json(path, results)
    return results


def parser():
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(prog="python -m vision.retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", action=ActionConfigFile, help="a YAML config (repeat to overlay)")
    parser.add_class_arguments(ClipSpec, "model")
    parser.add_subclass_arguments(CaptionSource, "data", required=True)
    parser.add_argument(
        "--run_dir",
        type=str | None,
        default=None,
        help="where retrieval.json/.md go (default runs/retrieval/<data>-<model>)",
    )
    parser.add_argument("--batch_size", type=int, default=64, help="images or captions embedded at once")
    parser.add_argument("--threads", type=int | None, default=None, help="torch CPU threads (None: torch's choice)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` (default ``sys.argv[1:]``), run, print the report section; returns ``retrieval.json``."""
    parser_ = parser()
    config = parser_.parse_args(sys.argv[1:] if argv is None else argv)
    if config.threads:
        torch.set_num_threads(config.threads)
    objects = parser_.instantiate_classes(config)
    results = run(objects.model, objects.data, config.run_dir, config.batch_size)
    print(render(results), end="")
    return results


if __name__ == "__main__":
    from vision import retrieval  # the module's own classes, not __main__'s copies, as jsonargparse's subclasses
    from workbench.program import entry

    entry(retrieval.main)
