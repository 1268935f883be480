"""The page's tabs and what their buttons do (see :mod:`apps.demo` for the page as a whole)."""

from __future__ import annotations

import functools
import logging
import time

import gradio as gr

from apps.inputs import MAX_SECONDS, read_clip, read_image
from apps.service import Service
from workbench.errors import WorkbenchError

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


def probabilities(names: list[str], probs: list[float]) -> dict[str, float]:
    return {name: float(p) for name, p in zip(names, probs, strict=True)}


def milliseconds(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.0f} ms"


def model_or_none(service: Service, kind: str, name: str | None):
    """The chosen run's model (the kind's default when none is chosen); None while none is ready."""
    if not service.registry.names(kind):
        return None
    try:
        return service.registry.get(kind, name if name in service.registry.names(kind) else None)
    except KeyError as err:
        raise WorkbenchError(str(err)) from None


def classify_speech(service: Service, audio, language: str, e2e_name: str | None, cascade_name: str | None):
    """Clip -> (E2E probs, E2E latency, cascade language note, transcript, romanized, cascade probs,
    cascade latency); a path whose model is not ready yet says so in its latency field."""
    wave = read_clip(audio)
    e2e, cascade = model_or_none(service, "e2e", e2e_name), model_or_none(service, "cascade", cascade_name)
    if e2e is None and cascade is None:
        raise WorkbenchError(f"no model is ready yet: E2E {service.path_status('e2e')}")
    e2e_out: tuple = (None, f"E2E {service.path_status('e2e')}")
    if e2e is not None:
        start = time.perf_counter()
        e2e_out = (probabilities(e2e.label_names, e2e.predict(wave)), milliseconds(start))
    cascade_out: tuple = ("", "", "", None, f"cascade {service.path_status('cascade')}")
    if cascade is not None:
        given = None if language in (None, "", AUTO) else language
        candidates = service.registry.speech_languages() or EMBEDDED_LANGUAGES
        start = time.perf_counter()
        result = cascade.predict(wave, given, candidates)
        latency = milliseconds(start)
        if given:
            note = f"{given} (given)"
        else:
            note = f"{result.language}: {result.language_note}" if result.language else result.language_note
        if not result.transcript.strip():
            gr.Warning("The recognizer heard no words in this clip: the cascade classified an empty text.")
        probs = probabilities(cascade.label_names, result.probs)
        cascade_out = (note, result.transcript, result.romanized, probs, latency)
    return (*e2e_out, *cascade_out)


def classify_image(service: Service, image, language: str, vision_name: str | None):
    """Image -> (native-prompt probs, romanized-prompt probs, the prompts of both)."""
    image = read_image(image)
    model = model_or_none(service, "vision", vision_name)
    if model is None:
        raise WorkbenchError(f"no vision run ready: {service.path_status('vision')}")
    native, native_prompts = model.predict(image, language, "native")
    roman, roman_prompts = model.predict(image, language, "romanized")
    return (
        probabilities(model.label_names, native),
        probabilities(model.label_names, roman),
        " | ".join(native_prompts),
        " | ".join(roman_prompts),
    )


def path_column(title: str, name: str, label: str, boxes: dict[str, str] | None = None) -> dict:
    """One path's column of the Speech tab, top to bottom: title, run picker, state, a textbox per
    ``boxes`` entry (key -> label), class probabilities, latency. Returns the components by key
    (``run``, ``state``, the ``boxes`` keys, ``probs``, ``latency``); element ids are ``<name>-<key>``."""
    gr.Markdown(f"### {title}")
    parts = {
        "run": gr.Dropdown([], value="", label=f"{label} run", allow_custom_value=True, elem_id=f"{name}-run"),
        "state": gr.Markdown(elem_id=f"{name}-state"),
    }
    parts.update({key: gr.Textbox(label=text, elem_id=f"{name}-{key}") for key, text in (boxes or {}).items()})
    parts["probs"] = gr.Label(label=f"{label} class probabilities", elem_id=f"{name}-probs")
    parts["latency"] = gr.Textbox(label=f"{label} latency", elem_id=f"{name}-latency")
    return parts


def speech_tab(service: Service) -> dict:
    """Build the Speech tab; returns the components the page's timer updates."""
    gr.Markdown(
        "Upload or record a clip (any sample rate or channel count; at most "
        f"{MAX_SECONDS:.0f} s), pick its language or leave **auto**, and compare the two paths. "
        "With *auto*, the cascade's language comes from Whisper's language ID when the recognizer is "
        "Whisper, else from the script of the transcript; a recognizer that writes romanized text "
        "needs none. The E2E model never needs a language."
    )
    with gr.Row():
        audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Clip", elem_id="speech-audio")
        with gr.Column():
            language = gr.Dropdown(
                [AUTO, *EMBEDDED_LANGUAGES], value=AUTO, label="Language", elem_id="speech-language",
                allow_custom_value=True,
            )  # fmt: skip
            button = gr.Button("Classify", variant="primary", elem_id="speech-run")
            examples = gr.Dataset(
                components=[audio, language], samples=[], label="Example clips (test split, one per language)",
                elem_id="speech-examples", visible=False, samples_per_page=12,
            )  # fmt: skip
    with gr.Row(equal_height=False):
        with gr.Column():
            e2e = path_column("End-to-end (speech → class)", "e2e", "E2E")
        with gr.Column():
            boxes = {
                "language": "Language used by the cascade",
                "transcript": "Transcript",
                "romanized": "Romanized transcript",
            }
            cascade = path_column("Cascade (speech → text → romanized → class)", "cascade", "Cascade", boxes)
    button.click(
        friendly(functools.partial(classify_speech, service)),
        inputs=[audio, language, e2e["run"], cascade["run"]],
        outputs=[e2e["probs"], e2e["latency"]]
        + [cascade[key] for key in ("language", "transcript", "romanized", "probs", "latency")],
        api_name="classify_speech",
    )  # fmt: skip
    examples.click(lambda sample: tuple(sample), inputs=examples, outputs=[audio, language], api_visibility="private")
    return {
        "e2e": (e2e["run"], e2e["state"]),
        "cascade": (cascade["run"], cascade["state"]),
        "examples": examples,
        "language": language,
    }


def vision_tab(service: Service) -> dict:
    """Build the Vision tab; returns the components the page's timer updates."""
    gr.Markdown("An image and a language: the class prompts are written in that language, natively and romanized.")
    with gr.Row():
        with gr.Column():
            image = gr.Image(type="pil", label="Image", height=256, elem_id="vision-image")
            language = gr.Dropdown(EMBEDDED_LANGUAGES, value="eng", label="Prompt language", allow_custom_value=True)
            run = gr.Dropdown([], value="", label="Vision run", allow_custom_value=True, elem_id="vision-run-name")
            state = gr.Markdown(elem_id="vision-state")
            button = gr.Button("Classify", variant="primary", elem_id="vision-run")
            examples = gr.Dataset(
                components=[image, language], samples=[], label="Example images (test split)", visible=False
            )
        with gr.Column():
            native = gr.Label(label="Native-script prompts", elem_id="vision-native")
            native_prompts = gr.Textbox(label="Native prompts")
        with gr.Column():
            roman = gr.Label(label="Romanized prompts", elem_id="vision-romanized")
            roman_prompts = gr.Textbox(label="Romanized prompts")
    button.click(
        friendly(functools.partial(classify_image, service)),
        inputs=[image, language, run],
        outputs=[native, roman, native_prompts, roman_prompts],
        api_name="classify_image",
    )
    examples.click(lambda sample: tuple(sample), inputs=examples, outputs=[image, language], api_visibility="private")
    return {"vision": (run, state), "image_examples": examples}


def report_table(report):
    """The report's test table as a DataFrame (headers included); empty when there is none."""
    import pandas as pd

    return pd.DataFrame(report.rows, columns=report.header) if report.header else pd.DataFrame()


def results_tab(report_arg) -> tuple:
    """Build the Results tab: the newest report's ``report.md``, its table and every PNG beside it.

    Returns the reload function and its outputs (the page reloads the report on each page load).
    """
    from apps.results import load_report

    first = load_report(report_arg)
    markdown = gr.Markdown(first.markdown, elem_id="results-report")
    shown = first.folder is not None
    table = gr.Dataframe(value=report_table(first), label="table_test.csv", interactive=False, visible=shown)
    plots = first.gallery() or None
    gallery = gr.Gallery(value=plots, label="Plots", columns=2, visible=shown, elem_id="results-plots")
    refresh = gr.Button("Refresh", elem_id="results-refresh")

    def reload():
        current = load_report(report_arg)
        shown = current.folder is not None
        return (
            current.markdown,
            gr.update(value=report_table(current), visible=shown),
            gr.update(value=current.gallery() or None, visible=shown),
        )

    refresh.click(friendly(reload), outputs=[markdown, table, gallery], api_name="results")
    return reload, [markdown, table, gallery]
