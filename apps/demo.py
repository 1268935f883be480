"""The comparison demo: ``python -m apps.demo [--runs DIR ...] [--report DIR] [--quick] [--no-train]``.

The page is served at once (on 127.0.0.1 unless ``--host`` says otherwise); the models come
while it is up. Finished runs are looked for in ``--runs``, ``runs/demo/``, the README main
job's ``runs/speech`` and ``sweeps/*/runs``; the embedded-default model of each kind none was
found for is trained in the background, two processes at a time, into ``runs/demo/`` (see
:mod:`apps.service`). The training panel at the top of the page (and the console) shows each
model's stage, epoch and step, dev score and time left; each path of the page is usable the
moment its model is.

Tabs:

- **Speech**: a clip (microphone or upload; any rate and channel count, converted to 16 kHz
  mono) -> side by side, the E2E model's class probabilities and the cascade's transcript,
  romanized transcript and class probabilities, each with its latency. The language is given
  or ``auto``: see :mod:`apps.langid` for how it is detected when the cascade needs one.
- **Vision**: an image and a language (or ``auto``) -> side by side, the E2E image model's class
  probabilities (native and romanized prompts) and the OCR cascade's text (Tesseract), romanized
  text and class probabilities, each with its latency.
- **Results**: the newest report (``report.md``, its table, every plot beside it).

Every event a person triggers has an ``api_name`` for ``gradio_client`` (``classify_speech``,
``classify_image``, ``results``), and ``/progress`` returns the training state as JSON.
Ctrl-C, SIGTERM or any death of the demo stops its training child too.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from apps.inputs import MAX_FILE_SIZE  # noqa: E402
from apps.registry import KINDS  # noqa: E402
from apps.results import load_report
from apps.service import Service  # noqa: E402
from apps.tabs import results_tab, speech_tab, vision_tab  # noqa: E402
from apps.training import DEFAULT_BASE, default_jobs  # noqa: E402

log = logging.getLogger(__name__)

TITLES = {name: kind.title for name, kind in KINDS.items()}
JOB_NAMES = ("all", *(job.name for job in default_jobs(quick_first=True)))  # what --train-arg NAME= may name
SERVED = tuple(TITLES)  # the kinds whose run dropdowns and states the page keeps up to date


@dataclass
class App:
    """The demo and what :meth:`launch` needs to serve it."""

    blocks: gr.Blocks
    service: Service
    allowed_paths: list[str]

    def launch(self, host: str = "127.0.0.1", port: int | None = None, **kwargs):
        """Serve (binds ``host``, 127.0.0.1 by default), then start finding, loading and training models.

        ``kwargs`` go to ``gr.Blocks.launch``; with ``prevent_thread_lock=True`` this returns at once.
        """
        block = not kwargs.pop("prevent_thread_lock", False)
        result = self.blocks.launch(
            server_name=host,
            server_port=port,
            max_file_size=MAX_FILE_SIZE,
            allowed_paths=self.allowed_paths,
            show_error=False,
            prevent_thread_lock=True,
            **kwargs,
        )
        # only now: the imports and loading below would hold the interpreter while the server starts
        self.service.start()
        if block:
            self.blocks.block_thread()
        return result

    def close(self) -> None:
        """Stop training and the server."""
        self.service.stop()
        self.blocks.close()


def page_refresh(service: Service, components: dict):
    """The timer's function: the training panel, each path's state and run choices, the examples.

    Choices and examples are sent only when they changed since the page last got them (``seen``),
    so that a person's open dropdown is not redrawn every second.
    """

    def refresh(seen, *chosen):
        version = f"{service.registry.version}-{service.version}"
        out = [service.status_markdown(), version]
        for kind, current in zip(SERVED, chosen, strict=True):
            names = service.registry.names(kind)
            # a change of the runs serves the kind's served run (a full recipe replacing its quick one)
            value = (names[0] if names else "") if version != seen or current not in names else current
            out += [gr.update(choices=names, value=value) if version != seen else gr.skip()]
            out += [f"**{TITLES[kind]}:** {service.path_status(kind)}"]
        for key in ("audio", "image"):
            examples = service.examples[key]
            if version == seen:
                out.append(gr.skip())
                continue
            out.append(
                gr.Dataset(
                    samples=[[e.path, e.language] for e in examples],
                    sample_labels=[e.label for e in examples],
                    visible=bool(examples),
                )
            )
        return tuple(out)

    outputs = [components["status"], components["seen"]]
    for kind in SERVED:
        outputs += list(components[kind])
    outputs += [components["examples"], components["image_examples"]]
    inputs = [components["seen"]] + [components[kind][0] for kind in SERVED]
    return refresh, inputs, outputs


def build_demo(
    runs: list[str | Path] | None = None,
    report: str | Path | None = None,
    base: str | Path = DEFAULT_BASE,
    train: bool = True,
    quick: bool = False,
    extra: dict[str, list[str]] | None = None,
    poll: float = 1.0,
    say=print,
    quick_first: bool = True,
) -> App:
    """The page and its :class:`~apps.service.Service` (started by :meth:`App.launch`: finding, loading and
    training models in the background).

    Args:
        runs: run directories or folders of runs to serve (searched before the defaults).
        report: a report folder or a dir holding ``report/`` (default: the newest ``sweeps/*/report``).
        base, train, quick, extra, quick_first: where and how the missing default models are trained
            (:func:`apps.training.default_jobs`); ``train=False`` serves what is found only; ``quick_first``:
            quick recipes first (speech's, then vision's), replaced by the full ones when better.
        poll: seconds between refreshes of the page and looks at the training child.
        say: the console.
    """
    service = Service(runs, base, train=train, quick=quick, extra=extra, say=say, poll=poll, quick_first=quick_first)
    with gr.Blocks(title="xling-workbench: E2E vs cascade") as blocks:
        gr.Markdown("# xling-workbench — end-to-end vs cascade, across languages and scripts")
        status = gr.Markdown(service.status_markdown(), elem_id="training-status")
        with gr.Tab("Speech"):
            components = speech_tab(service)
        with gr.Tab("Vision"):
            components.update(vision_tab(service))
        with gr.Tab("Results"):
            reload_report, report_outputs = results_tab(report)
        components.update(status=status, seen=gr.State(""))
        refresh, inputs, outputs = page_refresh(service, components)
        timer = gr.Timer(poll)
        timer.tick(refresh, inputs=inputs, outputs=outputs, api_visibility="private", show_progress="hidden")
        blocks.load(refresh, inputs=inputs, outputs=outputs, api_visibility="private", show_progress="hidden")
        blocks.load(reload_report, outputs=report_outputs, api_visibility="private", show_progress="hidden")

        def progress() -> dict:
            """The training state: every job (stage, epoch, step, dev score, time left) and the served runs."""
            return {
                "searching": service.searching,
                "jobs": service.jobs_status(),
                "ready": {kind: service.registry.names(kind) for kind in SERVED},
                "examples": {key: len(value) for key, value in service.examples.items()},
            }

        gr.api(progress, api_name="progress")
    folder = load_report(report).folder
    allowed = [str(service.examples_folder.resolve())] + ([str(folder.resolve())] if folder else [])
    return App(blocks, service, allowed)


def parse_extra(values: list[str] | None) -> dict[str, list[str]]:
    """``["e2e=--trainer.max_epochs=2", "all=--threads=2"]`` -> ``{"e2e": [...], "all": [...]}``."""
    out: dict[str, list[str]] = {}
    for value in values or []:
        name, sep, arg = value.partition("=")
        if not sep or name not in JOB_NAMES:
            raise SystemExit(f"--train-arg {value}: expected NAME=ARG with NAME one of {', '.join(JOB_NAMES)}")
        out.setdefault(name, []).append(arg)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m apps.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", help="run directories or folders of runs (E2E, cascade, vision, OCR)")
    parser.add_argument("--report", help="a report folder or a dir holding report/ (default: newest sweeps/*/report/)")
    parser.add_argument("--base", default=str(DEFAULT_BASE), help="where the missing default models are trained")
    parser.add_argument("--quick", action="store_true", help="shortened training of the default models (2-3 epochs)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="serve the runs found, train nothing")
    parser.add_argument(
        "--full-only",
        dest="quick_first",
        action="store_false",
        help="train only the full recipes (no quick recipes first)",
    )
    parser.add_argument(
        "--train-arg",
        action="append",
        metavar="NAME=ARG",
        help="one more argument for a default model's training program (NAME: e2e, asr, cascade, vision, ocr, "
        "all, or e2e-quick, asr-quick, cascade-quick, vision-quick, ocr-quick for a quick recipe only; e2e also "
        "reaches e2e-quick), "
        "e.g. e2e=--trainer.max_epochs=4; repeatable",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    return parser.parse_args(argv)


def _stop_on_sigterm(signum, frame) -> None:
    # the same way out as Ctrl-C: gradio closes the server, main() stops the training child
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own startup requests
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app = build_demo(
        args.runs,
        args.report,
        args.base,
        train=args.train,
        quick=args.quick,
        quick_first=args.quick_first,
        extra=parse_extra(args.train_arg),
        say=lambda line: print(line, flush=True),  # a console or a log file: each line as it comes
    )
    print(f"Serving on http://{args.host}:{args.port} (models are found and trained in the background)", flush=True)
    try:
        app.launch(args.host, args.port)
    finally:
        app.service.stop()


if __name__ == "__main__":
    main()
