"""The comparison demo: ``python -m apps.demo [--runs DIR ...] [--report DIR] [--quick]``.

Tabs:

- **Speech**: a clip (microphone or upload; any rate and channel count, converted to 16 kHz
  mono) -> side by side, the E2E model's class probabilities and the cascade's transcript,
  romanized transcript and class probabilities. The language is given or ``auto``: see
  :mod:`apps.langid` for how it is detected when the cascade needs one.
- **Vision**: an image and a language -> predictions with native and romanized prompts.
- **Results**: the latest sweep report (table and plots).

Without ``--runs`` the embedded-default models are used, trained on first use into
``runs/demo/`` (see :mod:`apps.training`; ``--quick`` shortens that training). The server
binds 127.0.0.1 unless ``--host`` says otherwise. Every event has an ``api_name``
(``classify_speech``, ``classify_image``, ``results``) for ``gradio_client``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from apps.inputs import MAX_FILE_SIZE, MAX_SECONDS, read_clip, read_image  # noqa: E402
from apps.models import discover_runs, instantiate, load_run, read_config  # noqa: E402
from apps.results import load_report  # noqa: E402
from workbench.errors import WorkbenchError  # noqa: E402

log = logging.getLogger(__name__)

AUTO = "auto"
EMBEDDED_LANGUAGES = ["eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha"]


def friendly(fn):
    """Turn every failure into a message in the UI (``gr.Error``), never a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except WorkbenchError as err:
            raise gr.Error(str(err)) from None
        except Exception as err:  # noqa: BLE001 - shown to the person, logged in full for the developer
            log.exception("demo: %s failed", fn.__name__)
            raise gr.Error(f"{type(err).__name__}: {err}") from None

    return wrapper


def run_name(model) -> str:
    """``<system> (<parent>/<run>)``: short, yet tells runs of the same system apart."""
    where = "/".join(model.run_dir.parts[-2:])
    return f"{getattr(model, 'system', model.kind)} ({where})"


@dataclass
class Models:
    """The loaded runs of each kind, by display name (first one is the default)."""

    e2e: dict = field(default_factory=dict)
    cascade: dict = field(default_factory=dict)
    vision: dict = field(default_factory=dict)

    @classmethod
    def load(cls, paths: list[str | Path]) -> Models:
        found = discover_runs(paths)
        models = cls()
        for kind, runs in found.items():
            for run in runs:
                model = load_run(run)
                getattr(models, kind)[run_name(model)] = model
        if not models.e2e or not models.cascade:
            raise WorkbenchError(
                f"--runs {' '.join(map(str, paths))}: need at least one E2E and one cascade run with a checkpoint "
                f"(found {len(models.e2e)} E2E, {len(models.cascade)} cascade)"
            )
        return models

    def speech_languages(self) -> list[str]:
        found = sorted({lang for m in [*self.e2e.values(), *self.cascade.values()] for lang in m.languages})
        return found or EMBEDDED_LANGUAGES


def probabilities(names: list[str], probs: list[float]) -> dict[str, float]:
    return {name: float(p) for name, p in zip(names, probs, strict=True)}


def classify_speech(models: Models, audio, language: str, e2e_name: str, cascade_name: str):
    """Clip path -> (E2E probs, cascade language note, transcript, romanized, cascade probs)."""
    wave = read_clip(audio)
    e2e, cascade = models.e2e[e2e_name], models.cascade[cascade_name]
    given = None if language in (None, "", AUTO) else language
    result = cascade.predict(wave, given, models.speech_languages())
    if given:
        note = f"{given} (given)"
    else:
        note = f"{result.language}: {result.language_note}" if result.language else result.language_note
    if not result.transcript.strip():
        gr.Warning("The recognizer heard no words in this clip: the cascade classified an empty text.")
    return (
        probabilities(e2e.label_names, e2e.predict(wave)),
        note,
        result.transcript,
        result.romanized,
        probabilities(cascade.label_names, result.probs),
    )


def classify_image(models: Models, image, language: str, vision_name: str):
    """Image -> (native-prompt probs, romanized-prompt probs, the prompts of both)."""
    image = read_image(image)
    if not vision_name or vision_name not in models.vision:
        raise WorkbenchError("no vision run loaded: give one with --runs (python -m vision.fit ...)")
    model = models.vision[vision_name]
    native, native_prompts = model.predict(image, language, "native")
    roman, roman_prompts = model.predict(image, language, "romanized")
    return (
        probabilities(model.label_names, native),
        probabilities(model.label_names, roman),
        " | ".join(native_prompts),
        " | ".join(roman_prompts),
    )


def corpus_examples(run_dir: Path, split: str = "test", per_language: int = 1, field_name: str = "audio"):
    """Items of a run's corpus split (one per language), for ``gr.Examples``; [] when unavailable."""
    try:
        source = instantiate((read_config(run_dir).get("data") or {}).get("source"))
        corpus = source.load()
    except Exception as err:  # noqa: BLE001 - examples are a convenience; the demo works without
        log.warning("no examples from %s: %s", run_dir, err)
        return []
    out, contents = [], set()
    for language in corpus.languages:
        items = [i for i in corpus.where(split, [language]) if getattr(i, field_name)]
        # different contents (classes) across languages, when the split has them
        fresh = [i for i in items if i.content_id not in contents] or items
        out += fresh[:per_language]
        contents.update(i.content_id for i in fresh[:per_language])
    return out


def speech_tab(models: Models) -> list[str]:
    """Build the Speech tab; returns the folders its example clips live in (for ``allowed_paths``)."""
    e2e_names, cascade_names = list(models.e2e), list(models.cascade)
    gr.Markdown(
        "Upload or record a clip (any sample rate or channel count; at most "
        f"{MAX_SECONDS:.0f} s), pick its language or leave **auto**, and compare the two paths. "
        "With *auto*, the cascade's language comes from Whisper's language ID when the recognizer is "
        "Whisper, else from the script of the transcript; a recognizer that writes romanized text "
        "needs none. The E2E model never needs a language."
    )
    with gr.Row():
        with gr.Column():
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Clip", elem_id="speech-audio")
            language = gr.Dropdown(
                [AUTO, *models.speech_languages()], value=AUTO, label="Language", elem_id="speech-language"
            )
            e2e_run = gr.Dropdown(e2e_names, value=e2e_names[0], label="E2E run")
            cascade_run = gr.Dropdown(cascade_names, value=cascade_names[0], label="Cascade run")
            button = gr.Button("Classify", variant="primary", elem_id="speech-run")
        with gr.Column():
            gr.Markdown("### End-to-end (speech → class)")
            e2e_probs = gr.Label(label="E2E class probabilities", elem_id="e2e-probs")
        with gr.Column():
            gr.Markdown("### Cascade (speech → text → romanized → class)")
            cascade_language = gr.Textbox(label="Language used by the cascade", elem_id="cascade-language")
            transcript = gr.Textbox(label="Transcript", elem_id="cascade-transcript")
            romanized = gr.Textbox(label="Romanized transcript", elem_id="cascade-romanized")
            cascade_probs = gr.Label(label="Cascade class probabilities", elem_id="cascade-probs")
    button.click(
        friendly(functools.partial(classify_speech, models)),
        inputs=[audio, language, e2e_run, cascade_run],
        outputs=[e2e_probs, cascade_language, transcript, romanized, cascade_probs],
        api_name="classify_speech",
    )
    items = corpus_examples(next(iter(models.e2e.values())).run_dir)
    if items:
        gr.Examples(
            [[item.audio, item.language] for item in items],
            inputs=[audio, language],
            label="Example clips from the corpus' test split (one per language)",
            example_labels=[f"{item.language}: {item.text}" for item in items],
            api_name="load_speech_example",
        )
    return sorted({str(Path(item.audio).parent.parent) for item in items})


def vision_tab(models: Models) -> list[str]:
    """Build the Vision tab; returns the folders its example images live in."""
    names = list(models.vision)
    if not names:
        gr.Markdown("No vision run loaded: pass one with `--runs` (`python -m vision.fit ...`).")
        return []
    first = models.vision[names[0]]
    gr.Markdown("An image and a language: the class prompts are written in that language, natively and romanized.")
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="pil", label="Image", height=256, elem_id="vision-image")
            language = gr.Dropdown(first.languages, value=first.languages[0], label="Prompt language")
            run = gr.Dropdown(names, value=names[0], label="Vision run")
            button = gr.Button("Classify", variant="primary", elem_id="vision-run")
        with gr.Column():
            native = gr.Label(label="Native-script prompts", elem_id="vision-native")
            native_prompts = gr.Textbox(label="Native prompts")
        with gr.Column():
            roman = gr.Label(label="Romanized prompts", elem_id="vision-romanized")
            roman_prompts = gr.Textbox(label="Romanized prompts")
    button.click(
        friendly(functools.partial(classify_image, models)),
        inputs=[image, language, run],
        outputs=[native, roman, native_prompts, roman_prompts],
        api_name="classify_image",
    )
    items = corpus_examples(first.run_dir, field_name="image")[:4]
    if items:
        gr.Examples(
            [[item.image, item.language] for item in items],
            inputs=[image, language],
            label="Example images from the corpus' test split",
            api_name="load_image_example",
        )
    return sorted({str(Path(item.image).parent) for item in items})


def report_table(report):
    """The report's test table as a DataFrame (headers included); empty when there is none."""
    import pandas as pd

    return pd.DataFrame(report.rows, columns=report.header) if report.header else pd.DataFrame()


def results_tab(report: str | Path | None) -> None:
    first = load_report(report)
    markdown = gr.Markdown(first.markdown, elem_id="results-report")
    shown = first.folder is not None
    table = gr.Dataframe(value=report_table(first), label="table_test.csv", interactive=False, visible=shown)
    gallery = gr.Gallery(value=first.plots or None, label="Plots", columns=2, visible=shown)
    refresh = gr.Button("Refresh", elem_id="results-refresh")

    def reload():
        current = load_report(report)
        shown = current.folder is not None
        return (
            current.markdown,
            gr.update(value=report_table(current), visible=shown),
            gr.update(value=current.plots or None, visible=shown),
        )

    refresh.click(friendly(reload), outputs=[markdown, table, gallery], api_name="results")


@dataclass
class App:
    """The demo and what :meth:`launch` needs to serve it."""

    blocks: gr.Blocks
    models: Models
    allowed_paths: list[str]
    report_folder: Path | None = None

    def launch(self, host: str = "127.0.0.1", port: int | None = None, **kwargs):
        """Serve (binds ``host``, 127.0.0.1 by default); ``kwargs`` go to ``gr.Blocks.launch``."""
        allowed = list(self.allowed_paths) + ([str(self.report_folder)] if self.report_folder else [])
        return self.blocks.launch(
            server_name=host,
            server_port=port,
            max_file_size=MAX_FILE_SIZE,
            allowed_paths=allowed,
            show_error=False,
            **kwargs,
        )


def build_demo(runs: list[str | Path], report: str | Path | None = None) -> App:
    """The Blocks app over the E2E, cascade and vision runs found under ``runs``."""
    from speech import feature_cache

    feature_cache.set_writes(False)  # uploads read cached corpus features but never add to the disk
    models = Models.load(runs)
    with gr.Blocks(title="xling-workbench: E2E vs cascade") as blocks:
        gr.Markdown("# xling-workbench — end-to-end vs cascade, across languages and scripts")
        with gr.Tab("Speech"):
            allowed = speech_tab(models)
        with gr.Tab("Vision"):
            allowed += vision_tab(models)
        with gr.Tab("Results"):
            results_tab(report)
    return App(blocks, models, allowed, load_report(report).folder)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m apps.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", help="run directories or folders of runs (E2E, cascade, vision)")
    parser.add_argument("--report", help="a report folder or sweep dir (default: newest sweeps/*/report/)")
    parser.add_argument("--base", default="runs/demo", help="where the default models are trained on first use")
    parser.add_argument("--quick", action="store_true", help="shortened first-use training (a few epochs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs = args.runs
    if not runs:
        from apps.training import default_jobs, ensure_trained

        ensure_trained(default_jobs(args.base, quick=args.quick))
        runs = [args.base]
    app = build_demo(runs, args.report)
    print(f"Serving on http://{args.host}:{args.port}")
    app.launch(args.host, args.port)


if __name__ == "__main__":
    main()
