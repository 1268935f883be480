"""The page's tabs and what their buttons do (see :mod:`apps.demo` for the page as a whole)."""

from __future__ import annotations

import functools
import logging
import time

import gradio as gr

from apps.inputs import MAX_SECONDS, read_clip, read_image
from apps.results import load_report
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


def language_note(given: str | None, result) -> str:
    """What the cascade's language field shows: the given language, or the one found and how."""
    if given:
        return f"{given} (given)"
    return f"{result.language}: {result.language_note}" if result.language else result.language_note


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
        empty = "The recognizer heard no words in this clip: the cascade classified an empty text."
        cascade_out, _ = run_cascade(cascade, wave, given, candidates, empty)
    return (*e2e_out, *cascade_out)


def run_cascade(model, signal, given: str | None, candidates: list[str], empty: str) -> tuple[tuple, object]:
    """A cascade's outputs on one clip or image — (language note, text, romanized text, probabilities,
    latency) — and its :class:`~apps.models.CascadeResult`; ``empty`` is the warning when no text was read."""
    start = time.perf_counter()
    result = model.predict(signal, given, candidates)
    latency = milliseconds(start)
    if not result.transcript.strip():
        gr.Warning(empty)
    probs = probabilities(model.label_names, result.probs)
    return (language_note(given, result), result.transcript, result.romanized, probs, latency), result


def e2e_language(model, given: str | None, cascade_language: str | None) -> tuple[str, str]:
    """(language, note) of the E2E image model's prompts: the given one, else the OCR cascade's,
    else the run's first language (the model cannot tell the image's language itself)."""
    if given:
        return given, f"{given} (given)"
    if cascade_language in model.languages:
        return cascade_language, f"{cascade_language} (the OCR cascade's)"
    first = model.languages[0]
    return first, f"{first} (no language given or detected: the run's first)"


def classify_image(service: Service, image, language: str, vision_name: str | None, ocr_name: str | None):
    """Image -> the E2E image model beside the OCR cascade: (prompt language, native-prompt probs,
    romanized-prompt probs, native prompts, romanized prompts, E2E latency, cascade language note,
    OCR text, romanized OCR text, cascade probs, cascade latency); a path whose model is not ready
    yet says so in its latency field."""
    image = read_image(image)
    e2e, ocr = model_or_none(service, "vision", vision_name), model_or_none(service, "ocr", ocr_name)
    if e2e is None and ocr is None:
        raise WorkbenchError(f"no vision model is ready yet: E2E {service.path_status('vision')}")
    given = None if language in (None, "", AUTO) else language
    if e2e is not None and ocr is not None and e2e.label_names != ocr.label_names:
        # e.g. the digits vision run beside the text-image cascade: both answer, but not the same question
        gr.Warning(
            f"The vision run's classes ({', '.join(e2e.label_names[:4])}, ...) are not the OCR cascade's "
            f"({', '.join(ocr.label_names[:4])}, ...): it was trained on other images."
        )
    ocr_out: tuple = ("", "", "", None, f"OCR cascade {service.path_status('ocr')}")
    result = None
    if ocr is not None:
        empty = "The OCR read no text in this image: the cascade classified an empty text."
        ocr_out, result = run_cascade(ocr, image, given, ocr.languages or EMBEDDED_LANGUAGES, empty)
    e2e_out: tuple = ("", None, None, "", "", f"E2E {service.path_status('vision')}")
    if e2e is not None:
        prompt_language, prompt_note = e2e_language(e2e, given, result.language if result else None)
        start = time.perf_counter()
        native, native_prompts = e2e.predict(image, prompt_language, "native")
        roman, roman_prompts = e2e.predict(image, prompt_language, "romanized")
        e2e_out = (
            prompt_note,
            probabilities(e2e.label_names, native),
            probabilities(e2e.label_names, roman),
            " | ".join(native_prompts),
            " | ".join(roman_prompts),
            milliseconds(start),
        )
    return (*e2e_out, *ocr_out)


SPEECH_INPUT = functools.partial(gr.Audio, sources=["upload", "microphone"], type="filepath", label="Clip")
IMAGE_INPUT = functools.partial(gr.Image, type="pil", label="Image", height=256)
SPEECH_HELP = (
    "Upload or record a clip (any sample rate or channel count; at most "
    f"{MAX_SECONDS:.0f} s), pick its language or leave **auto**, and compare the two paths. "
    "With *auto*, the cascade's language comes from Whisper's language ID when the recognizer is "
    "Whisper, else from the script of the transcript; a recognizer that writes romanized text "
    "needs none. The E2E model never needs a language."
)
VISION_HELP = (
    "Upload an image with text in it (or pick an example), pick its language or leave **auto**, and "
    "compare the two paths: the E2E image model's class probabilities (its class prompts written in "
    "the language, natively and romanized) beside the OCR cascade's text, romanized text and class "
    "probabilities. With *auto*, the OCR reads the image with every language's model at once and the "
    "language comes from the script of what it read; the E2E model then uses that language."
)


def input_row(help_text: str, make_signal, signal_id: str, tab: str, what: str) -> tuple:
    """A tab's help line, then its input row: the signal's component (``make_signal(elem_id=signal_id)``)
    beside the language choice (``auto`` first), the Classify button and the examples (hidden until a
    run is served, one per language; picking one fills signal and language); element ids
    ``<tab>-language``, ``-run``, ``-examples``. Returns (signal, language, button, examples)."""
    gr.Markdown(help_text)
    with gr.Row():
        signal = make_signal(elem_id=signal_id)
        with gr.Column():
            language = gr.Dropdown(
                [AUTO, *EMBEDDED_LANGUAGES], value=AUTO, label="Language", allow_custom_value=True,
                elem_id=f"{tab}-language",
            )  # fmt: skip
            button = gr.Button("Classify", variant="primary", elem_id=f"{tab}-run")
            examples = gr.Dataset(
                components=[signal, language], samples=[], label=f"{what} (test split, one per language)",
                visible=False, samples_per_page=12, elem_id=f"{tab}-examples",
            )  # fmt: skip
    examples.click(lambda sample: tuple(sample), inputs=examples, outputs=[signal, language], api_visibility="private")
    return signal, language, button, examples


def path_column(title: str, run_label: str, ids: tuple[str, str], outputs: list[tuple]) -> tuple:
    """One path's column: heading, run choice, the line that says whether its model is ready (element
    ids ``ids``: run, state), then ``outputs`` as ``(component class, label, element id or None)``.
    Returns (run, state, *outputs)."""
    with gr.Column():
        gr.Markdown(f"### {title}")
        run = gr.Dropdown([], value="", label=run_label, allow_custom_value=True, elem_id=ids[0])
        state = gr.Markdown(elem_id=ids[1])
        return (run, state, *(kind(label=label, elem_id=elem_id) for kind, label, elem_id in outputs))


def cascade_column(title: str, prefix: str, run_label: str, language_label: str, text: tuple[str, str, str]) -> tuple:
    """A cascade's column (both tabs): run choice, its state, then the outputs of a classification —
    language used, text read (``text``: element id, label, romanized label), romanized text,
    probabilities, latency. Element ids are ``<prefix>-run``, ``<prefix>-language``..."""
    text_id, text_label, romanized_label = text
    outputs = [
        (gr.Textbox, language_label, f"{prefix}-language"),
        (gr.Textbox, text_label, f"{prefix}-{text_id}"),
        (gr.Textbox, romanized_label, f"{prefix}-romanized"),
        (gr.Label, "Cascade class probabilities", f"{prefix}-probs"),
        (gr.Textbox, "Cascade latency", f"{prefix}-latency"),
    ]
    return path_column(title, run_label, (f"{prefix}-run", f"{prefix}-state"), outputs)


def speech_tab(service: Service) -> dict:
    """Build the Speech tab; returns the components the page's timer updates."""
    audio, language, button, examples = input_row(SPEECH_HELP, SPEECH_INPUT, "speech-audio", "speech", "Example clips")
    with gr.Row(equal_height=False):
        e2e_outputs = [(gr.Label, "E2E class probabilities", "e2e-probs"), (gr.Textbox, "E2E latency", "e2e-latency")]
        e2e_run, e2e_state, e2e_probs, e2e_latency = path_column(
            "End-to-end (speech → class)", "E2E run", ("e2e-run", "e2e-state"), e2e_outputs
        )
        texts = ("transcript", "Transcript", "Romanized transcript")
        cascade_run, cascade_state, *cascade_outputs = cascade_column(
            "Cascade (speech → text → romanized → class)",
            "cascade",
            "Cascade run",
            "Language used by the cascade",
            texts,
        )
    button.click(
        friendly(functools.partial(classify_speech, service)),
        inputs=[audio, language, e2e_run, cascade_run],
        outputs=[e2e_probs, e2e_latency, *cascade_outputs],
        api_name="classify_speech",
    )  # fmt: skip
    return {
        "e2e": (e2e_run, e2e_state),
        "cascade": (cascade_run, cascade_state),
        "examples": examples,
        "language": language,
    }


def vision_tab(service: Service) -> dict:
    """Build the Vision tab; returns the components the page's timer updates."""
    image, language, button, examples = input_row(VISION_HELP, IMAGE_INPUT, "vision-image", "vision", "Example images")
    with gr.Row(equal_height=False):
        e2e_outputs = [
            (gr.Textbox, "Prompt language", "vision-prompt-language"),
            (gr.Label, "E2E probabilities, native-script prompts", "vision-native"),
            (gr.Label, "E2E probabilities, romanized prompts", "vision-romanized"),
            (gr.Textbox, "Native prompts", None),
            (gr.Textbox, "Romanized prompts", None),
            (gr.Textbox, "E2E latency", "vision-latency"),
        ]
        run, state, prompt_language, native, roman, native_prompts, roman_prompts, e2e_latency = path_column(
            "End-to-end (image → class)", "Vision run", ("vision-run-name", "vision-state"), e2e_outputs
        )
        ocr_run, ocr_state, *ocr_outputs = cascade_column(
            "OCR cascade (image → text → romanized → class)",
            "ocr",
            "OCR cascade run",
            "Language used by the OCR",
            ("text", "OCR text", "Romanized OCR text"),
        )
    button.click(
        friendly(functools.partial(classify_image, service)),
        inputs=[image, language, run, ocr_run],
        outputs=[
            prompt_language, native, roman, native_prompts, roman_prompts, e2e_latency, *ocr_outputs,
        ],
        api_name="classify_image",
    )  # fmt: skip
    return {"vision": (run, state), "ocr": (ocr_run, ocr_state), "image_examples": examples}


def report_table(report):
    """The report's test table as a DataFrame (headers included); empty when there is none."""
    import pandas as pd

    return pd.DataFrame(report.rows, columns=report.header) if report.header else pd.DataFrame()


def results_tab(report_arg) -> tuple:
    """Build the Results tab: the newest report's ``report.md``, its table and every PNG beside it.

    Returns the reload function and its outputs (the page reloads the report on each page load).
    """
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
