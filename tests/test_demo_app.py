"""The Gradio demo (``python -m apps.demo``) over TINY trained runs: every API endpoint through
``gradio_client``, bad uploads, and a real headless Chromium (Playwright) that uploads a clip
and sees both paths' outputs; the screenshot goes to ``artifacts/demo_speech.png``.

The runs are the engineers' own programs (``cascade.fit_asr``, ``cascade.fit``, ``speech.fit``,
``vision.fit``) on the embedded configs, trained in-process on the tiny corpus for 3 epochs of 2
steps: long enough that the best checkpoint is not the last one (checked), so that a demo that
served ``last.ckpt`` would fail :func:`test_demo_serves_the_best_checkpoint_not_the_last`.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import soundfile as sf

from tests.helpers import demo
from tests.helpers.demo import CHROMIUM, CHROMIUM_ARGS, LABELS, free_port, need_chromium, tiny_extra, wait_for

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]


class KeepLatestEpoch(L.Callback):
    """Test helper: saves each finished epoch's state as ``<dirpath>/latest.ckpt``.

    Not a ModelCheckpoint, on purpose: the programs test ``ckpt_path="best"``, which Lightning
    resolves through the first ModelCheckpoint in the callbacks, and that must stay theirs.
    """

    def __init__(self, dirpath: str):
        self.dirpath = dirpath

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(str(Path(self.dirpath) / "latest.ckpt"))


def latest_epoch_checkpoint(run_dir: Path) -> list[str]:
    """CLI arguments that make the E2E run's best checkpoint an early epoch and keep its latest epoch too.

    The best is the epoch of HIGHEST dev loss (speech.fit maximises ``--monitor``), an early one as the
    loss falls; :class:`KeepLatestEpoch` keeps the latest epoch as ``latest.ckpt``. (``last.ckpt``
    cannot serve: with ``save_top_k=1``, Lightning 2.6 rewrites it only when a new best is saved, so
    it is a copy of the best.) A demo that served anything but the best checkpoint then gives other
    probabilities than those the run wrote for its test items.
    """
    return [
        "--monitor=val/loss",
        f"--trainer.callbacks+={__name__}.KeepLatestEpoch",
        f"--trainer.callbacks.dirpath={run_dir / 'checkpoints'}",
    ]


@pytest.fixture(scope="module")
def tiny_runs(tiny_root, tiny_corpus, tmp_path_factory):
    """The demo's five default runs (apps.training.default_jobs), trained tiny, in-process."""
    from apps.training import default_jobs, ensure_trained

    base = tmp_path_factory.mktemp("demo_runs")
    extra = tiny_extra(tiny_root, tmp_path_factory.mktemp("digits"))
    extra["e2e"] += latest_epoch_checkpoint(base / "e2e")
    jobs = default_jobs(base, extra=extra)
    ensure_trained(jobs, in_process=True)
    assert all(job.finished() for job in jobs)
    return base


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A sweep folder with a small report, as ``python -m workbench.report`` writes it."""
    sweep = tmp_path_factory.mktemp("sweep")
    report = sweep / "report"
    report.mkdir()
    (report / "report.md").write_text(
        "# Sweep report\n\n## Check these runs\n\n- e2e-conv seed 1: stopped by max_time\n\n"
        "E2E vs cascade on the tiny corpus.\n\n![Headroom ladder](ladder.png)\n"
    )
    (report / "table_test.csv").write_text("group,system,eng\nin_language,e2e-conv,0.5\nin_language,ca-romanized,0.4\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.bar([0, 1], [0.5, 0.4])
    fig.savefig(report / "protocol_averages.png")
    fig.savefig(report / "ladder.png")  # any name: the report decides what it draws
    plt.close(fig)
    return sweep


@pytest.fixture(scope="module")
def app(tiny_runs, report_dir):
    """The demo served in-process on 127.0.0.1 (a free port), once its runs and examples are loaded."""
    from apps.demo import build_demo

    demo = build_demo([tiny_runs], report=report_dir, base=tiny_runs, train=False)
    _, url, _ = demo.launch("127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    service = demo.service
    kinds = ("e2e", "cascade", "vision", "ocr")
    wait_for(lambda: all(service.registry.names(kind) for kind in kinds), what="the runs")
    wait_for(lambda: service.examples["audio"] and service.examples["image"], what="the examples")
    wait_for(lambda: not service._thread.is_alive(), what="the service to finish its background work")
    yield demo, url
    demo.close()


def models(app, kind: str):
    """The first served model of ``kind``."""
    return app[0].service.registry.get(kind)


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app[1], verbose=False)


@pytest.fixture(scope="module")
def clips(tiny_corpus, tmp_path_factory):
    """Test clips of each script, plus the bad uploads."""
    folder = tmp_path_factory.mktemp("clips")
    items = {lang: tiny_corpus.where("test", [lang])[0] for lang in ("eng", "rus", "tha")}
    rate = 16000
    t = np.arange(int(1.5 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = {lang: Path(item.audio) for lang, item in items.items()}
    # the same Russian clip as 44.1 kHz stereo WAV: must be converted, not refused
    from speech.audio import load_audio

    wave = load_audio(items["rus"].audio)
    stereo = np.stack([wave, wave], axis=1)
    import torch
    import torchaudio.functional as AF

    up = AF.resample(torch.from_numpy(stereo.T.copy()), rate, 44100).numpy().T
    sf.write(folder / "stereo44k.wav", up, 44100)
    out["stereo"] = folder / "stereo44k.wav"
    sf.write(folder / "silent.wav", np.zeros(rate, dtype=np.float32), rate)
    out["silent"] = folder / "silent.wav"
    sf.write(folder / "long.wav", np.tile(tone, 21), rate)  # 31.5 s
    out["long"] = folder / "long.wav"
    sf.write(folder / "ok.wav", tone, rate)
    data = (folder / "ok.wav").read_bytes()
    (folder / "corrupt.wav").write_bytes(data[: len(data) // 3])  # header promises more than there is
    out["corrupt"] = folder / "corrupt.wav"
    (folder / "notes.txt").write_text("this is not audio\n")
    out["text"] = folder / "notes.txt"
    return out, items


# -- units (no server) ------------------------------------------------------------------------
def test_read_clip_converts_and_refuses(clips):
    from apps.inputs import read_clip
    from workbench.errors import DataError

    paths, _ = clips
    wave = read_clip(paths["stereo"])
    assert wave.ndim == 1 and wave.dtype == np.float32
    assert abs(len(wave) - len(read_clip(paths["rus"]))) < 50  # resampled to 16 kHz
    for bad, text in [
        ("silent", "silent"),
        ("long", "at most 30 s"),
        ("corrupt", "truncated"),
        ("text", "not an audio"),
    ]:
        with pytest.raises(DataError, match=text):
            read_clip(paths[bad])
    with pytest.raises(DataError, match="no clip"):
        read_clip(None)


def test_language_from_script():
    from apps.langid import language_from_script

    candidates = ["deu", "eng", "rus", "tha"]
    assert language_from_script("Январь и февраль", candidates)[0] == "rus"
    assert language_from_script("มกราคม", candidates)[0] == "tha"
    assert language_from_script("Größe und Maß", candidates)[0] == "deu"
    assert language_from_script("January", candidates)[0] == "eng"
    assert language_from_script("Ιανουάριος", candidates + ["ell"])[0] == "ell"
    assert language_from_script("123 !!", candidates)[0] is None


def test_finished_runs_finds_each_kind(tiny_runs):
    from apps.registry import finished_runs

    found = finished_runs([tiny_runs])
    # the asr run is not served; the cascade on images is the Vision tab's, not the Speech tab's
    assert [len(found[k]) for k in ("e2e", "cascade", "vision", "ocr")] == [1, 1, 1, 1]
    assert found["ocr"] == [(tiny_runs / "ocr").resolve()]


# -- API endpoints ------------------------------------------------------------------------------
def test_every_endpoint_has_an_api_name(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/classify_speech", "/classify_image", "/results"} <= names


def _confidences(label: dict) -> dict[str, float]:
    return {row["label"]: row["confidence"] for row in label["confidences"]}


@pytest.mark.parametrize("language", ["auto", "rus"])
def test_classify_speech(client, clips, language):
    from gradio_client import handle_file

    paths, _ = clips
    e2e, e2e_latency, note, transcript, romanized, cascade, cascade_latency = client.predict(
        handle_file(str(paths["rus"])), language, api_name="/classify_speech"
    )
    for probs in (_confidences(e2e), _confidences(cascade)):
        assert set(probs) == set(LABELS)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert isinstance(transcript, str) and isinstance(romanized, str)
    # the tiny recognizer writes (wrong but) non-empty text: an empty one would pass every check above
    assert transcript.strip() and romanized.strip()
    for latency in (e2e_latency, cascade_latency):
        assert latency.endswith(" ms") and float(latency.split()[0]) >= 0
    # the default recognizer (fit_asr, romanized targets) is language-agnostic: nothing to detect
    assert ("given" in note) if language == "rus" else ("not needed" in note)


def test_classify_speech_converts_stereo_44k(client, clips):
    from gradio_client import handle_file

    paths, _ = clips
    e2e, _, _, transcript, *_ = client.predict(handle_file(str(paths["stereo"])), "auto", api_name="/classify_speech")
    assert set(_confidences(e2e)) == set(LABELS) and transcript.strip()


@pytest.mark.parametrize(
    "bad, message",
    [("silent", "audio is silent"), ("long", "at most 30 s"), ("corrupt", "truncated"), ("text", "not an audio")],
)
def test_bad_uploads_get_a_clear_message(client, clips, bad, message):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    paths, _ = clips
    with pytest.raises(AppError, match=message) as caught:
        client.predict(handle_file(str(paths[bad])), "auto", api_name="/classify_speech")
    assert "Traceback" not in str(caught.value)


def test_upload_size_is_capped(app):
    from apps.inputs import MAX_FILE_SIZE

    assert app[0].blocks.max_file_size == 20 * 1024 * 1024 and MAX_FILE_SIZE == "20mb"


def test_classify_image(client, app):
    """The API: an example text image (Russian) with its language given -> both paths' outputs."""
    from gradio_client import handle_file

    example = next(e for e in app[0].service.examples["image"] if e.language == "rus")
    out = client.predict(handle_file(example.path), "rus", api_name="/classify_image")
    prompt_language, native, roman, native_prompts, roman_prompts, e2e_latency = out[:6]
    ocr_language, text, romanized, cascade, cascade_latency = out[6:]
    assert prompt_language == "rus (given)" and ocr_language == "rus (given)"
    # the default vision run reads the same text images as the OCR cascade: the same six classes
    assert set(_confidences(native)) == set(_confidences(roman)) == set(LABELS)
    assert any("\u0400" <= ch <= "\u04ff" for ch in native_prompts)  # Cyrillic prompts
    assert roman_prompts.isascii() and roman_prompts != native_prompts
    assert set(_confidences(cascade)) == set(LABELS)
    # Tesseract reads the Cyrillic text, uroman romanizes it
    assert sum("\u0400" <= ch <= "\u04ff" for ch in text) >= 3 and romanized.isascii() and romanized.strip()
    for latency in (e2e_latency, cascade_latency):
        assert re.fullmatch(r"\d+ ms", latency)


def test_vision_comparison_returns_both_paths(app, tiny_runs):
    """The service level: an uploaded image (a PIL image, as gr.Image gives it) with the language
    left to the cascade: the OCR reads it, its script names the language, both paths answer."""
    from PIL import Image

    from apps.tabs import classify_image
    from workbench.io import read_jsonl
    from workbench.predictor import instantiate
    from workbench.runs import RunDir

    service = app[0].service
    corpus = instantiate(RunDir(tiny_runs / "ocr").config()["data"]["source"]).load()
    rows = {row["id"]: row for row in read_jsonl(tiny_runs / "ocr" / "predictions.jsonl")}
    for language in ("eng", "rus"):
        item = next(i for i in corpus.where("test", [language]) if i.id in rows)
        out = classify_image(service, Image.open(item.image), "auto", "", "")
        prompt_language, native, roman, _, _, _, ocr_language, text, romanized, cascade, _ = out
        assert ocr_language.startswith(f"{language}: detected from the transcript's script"), ocr_language
        assert prompt_language == f"{language} (the OCR cascade's)"  # the E2E prompts follow the OCR's language
        assert sum(native.values()) == pytest.approx(1.0, abs=1e-4) and set(native) == set(roman)
        assert text == rows[item.id]["transcript"]  # read again in the detected language: as the run read it
        assert cascade == pytest.approx(dict(zip(LABELS, rows[item.id]["probs"], strict=True)), abs=1e-4)
        assert romanized.isascii() and (romanized == text) == (language == "eng")
    # an image without text: nothing to detect from; the cascade classifies an empty text, the E2E
    # prompts fall back to the vision run's first language, and both still answer
    blank = Image.new("RGB", (240, 60), "white")
    prompt_language, native, _, _, _, _, ocr_language, text, romanized, cascade, _ = classify_image(
        service, blank, "auto", "", ""
    )
    assert text == romanized == "" and "no letters" in ocr_language and set(cascade) == set(LABELS)
    assert prompt_language.endswith("(no language given or detected: the run's first)") and native


def test_image_examples_are_the_text_images_once_an_ocr_run_is_served(tiny_runs, tmp_path):
    """A vision run alone gives its own images as examples; an OCR cascade run, once served, replaces
    them with one test image per language of the text images both vision paths can read."""
    from apps.service import Service

    service = Service([], base=tmp_path, train=False)
    service.registry.add(tiny_runs / "vision", "vision")
    service._gather_examples()
    digits = service.examples["image"]
    assert digits
    service.registry.add(tiny_runs / "ocr", "ocr")
    service._gather_examples()
    texts = service.examples["image"]
    assert sorted(e.language for e in texts) == ["eng", "rus"]
    assert not {e.path for e in texts} & {e.path for e in digits}
    assert all(e.label.split(": ", 1)[1] for e in texts)  # the drawn text, as the example's label


def test_results_endpoint(client):
    markdown, table, gallery = client.predict(api_name="/results")
    # table and gallery come as updates (value + visibility: hidden when there is no report)
    table, gallery = (out["value"] if isinstance(out, dict) and "__type__" in out else out for out in (table, gallery))
    assert "Sweep report" in markdown and "Check these runs" in markdown
    # report.md's relative image link cannot be followed by the page: it points to the gallery instead
    assert "![" not in markdown and "ladder.png, in the gallery below" in markdown
    assert table["headers"] == ["group", "system", "eng"] and len(table["data"]) == 2
    assert sorted(item["caption"] for item in gallery) == ["ladder.png", "protocol_averages.png"]


def test_runs_are_found_in_the_main_job_dir_and_sweeps(tiny_runs, tmp_path, monkeypatch):
    """Without --runs: runs/demo, the README main job's runs/speech and sweeps/*/runs, in that order,
    each run once however it is reached."""
    from apps.registry import finished_runs, search_places

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "speech").symlink_to(tiny_runs / "e2e")
    (tmp_path / "sweeps" / "embedded").mkdir(parents=True)
    (tmp_path / "sweeps" / "embedded" / "runs").symlink_to(tiny_runs)
    places = search_places(None, "runs/demo")  # runs/demo does not exist yet: not searched
    assert places == [Path("runs/speech"), Path("sweeps/embedded/runs")]
    found = finished_runs(places)
    assert found["e2e"] == [(tiny_runs / "e2e").resolve()]
    assert found["cascade"] == [(tiny_runs / "cascade").resolve()] and found["vision"]
    assert search_places(["sweeps/embedded/runs"], "runs/demo")[0] == Path("sweeps/embedded/runs")


# -- a real browser ---------------------------------------------------------------------------


def test_browser_upload_shows_both_paths(app, clips, tmp_path):
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    paths, _ = clips
    url = app[1]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)  # not "networkidle": the training panel polls the server every second
            expect(page.locator("#speech-run")).to_be_visible(timeout=30_000)
            page.locator("#speech-audio input[type=file]").set_input_files(str(paths["rus"]))
            expect(page.locator("#speech-audio audio, #speech-audio .waveform-container").first).to_be_attached(
                timeout=30_000
            )
            page.locator("#speech-run").click()
            transcript = page.locator("#cascade-transcript textarea")
            romanized = page.locator("#cascade-romanized textarea")
            expect(page.locator("#cascade-language textarea")).not_to_have_value("", timeout=60_000)
            for output in ("#e2e-probs", "#cascade-probs"):
                for label in LABELS:
                    expect(page.locator(output)).to_contain_text(label, timeout=30_000)
            assert transcript.input_value() == romanized.input_value()  # a romanized recognizer writes Latin
            assert transcript.input_value().strip()
            for latency in ("#e2e-latency textarea", "#cascade-latency textarea"):
                expect(page.locator(latency)).to_have_value(re.compile(r"^\d+ ms$"))
            page.evaluate("document.fonts.ready")  # every script's glyphs drawn before the screenshot
            shot = tmp_path / "demo_speech.png"
            page.screenshot(path=str(shot), full_page=True)
            artifacts = REPO / "artifacts"
            artifacts.mkdir(exist_ok=True)
            shutil.copy(shot, artifacts / "demo_speech.png")
            assert shot.stat().st_size > 10_000

            # an example clip is one click away; its language comes with it
            page.get_by_text("rus: ").first.click()
            expect(page.locator("#speech-audio audio, #speech-audio .waveform-container").first).to_be_attached(
                timeout=30_000
            )
            # the example fills the clip and the language asynchronously: classify once both are there
            expect(page.locator("#speech-language input")).to_have_value("rus", timeout=30_000)
            page.locator("#speech-run").click()
            expect(page.locator("#cascade-language textarea")).to_have_value("rus (given)", timeout=60_000)

            # a silent clip: the DataError text appears in the page, no stack trace
            clip = page.locator("#speech-audio audio, #speech-audio .waveform-container").first
            page.locator("#speech-audio button[aria-label='Clear']").first.click()
            expect(clip).not_to_be_attached(timeout=30_000)
            page.locator("#speech-audio input[type=file]").set_input_files(str(paths["silent"]))
            expect(clip).to_be_attached(timeout=30_000)
            page.locator("#speech-run").click()
            expect(page.get_by_text("audio is silent").first).to_be_visible(timeout=30_000)
            assert "Traceback" not in page.content()

            # the Results tab: report.md (its warnings first) and every plot beside it
            page.get_by_role("tab", name="Results").click()
            expect(page.locator("#results-report")).to_contain_text("Check these runs", timeout=30_000)
            expect(page.locator("#results-plots img")).to_have_count(2, timeout=30_000)
        finally:
            browser.close()


def test_browser_vision_tab_shows_both_paths(app, tiny_runs, tmp_path):
    """The Vision tab in Chromium: upload a Russian text image, language left on auto -> the OCR text
    (Cyrillic), its romanization and both probability tables; screenshot in ``artifacts/demo_vision.png``."""
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    example = next(e for e in app[0].service.examples["image"] if e.language == "rus")
    digits = models(app, "vision").label_names
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(app[1])
            page.get_by_role("tab", name="Vision").click()
            expect(page.locator("#vision-run")).to_be_visible(timeout=30_000)
            page.locator("#vision-image input[type=file]").set_input_files(example.path)
            expect(page.locator("#vision-image img").first).to_be_attached(timeout=30_000)
            page.locator("#vision-run").click()
            expect(page.locator("#ocr-language textarea")).to_have_value(re.compile(r"^rus: detected"), timeout=60_000)
            text = page.locator("#ocr-text textarea").input_value()
            assert sum("\u0400" <= ch <= "\u04ff" for ch in text) >= 3, text
            romanized = page.locator("#ocr-romanized textarea").input_value()
            assert romanized.strip() and romanized.isascii(), romanized
            for label in LABELS:
                expect(page.locator("#ocr-probs")).to_contain_text(label, timeout=30_000)
            for output in ("#vision-native", "#vision-romanized"):
                for label in digits:
                    expect(page.locator(output)).to_contain_text(label, timeout=30_000)
            expect(page.locator("#vision-prompt-language textarea")).to_have_value("rus (the OCR cascade's)")
            for latency in ("#vision-latency textarea", "#ocr-latency textarea"):
                expect(page.locator(latency)).to_have_value(re.compile(r"^\d+ ms$"))
            page.evaluate("document.fonts.ready")
            shot = tmp_path / "demo_vision.png"
            page.screenshot(path=str(shot), full_page=True)
            (REPO / "artifacts").mkdir(exist_ok=True)
            shutil.copy(shot, REPO / "artifacts" / "demo_vision.png")
        finally:
            browser.close()


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(demo, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is not installed"):
        need_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        need_chromium()


# -- language detection and first use ------------------------------------------------------------
class NativeStub:
    """A native-script, language-agnostic recognizer that always hears the same Russian words."""

    script = "native"
    uses_language = False

    def transcribe(self, waves, languages):
        return ["Январь и февраль" for _ in waves]


def test_auto_language_by_script_of_native_transcript(app, clips):
    from apps.inputs import read_clip

    paths, _ = clips
    cascade = models(app, "cascade")
    real = cascade.recognizer
    cascade.recognizer = NativeStub()
    try:
        result = cascade.predict(read_clip(paths["eng"]), None, ["eng", "rus", "tha"])
        given = cascade.predict(read_clip(paths["eng"]), "rus", ["eng", "rus", "tha"])
    finally:
        cascade.recognizer = real
    assert result.language == "rus" and "Cyrillic" in result.language_note
    assert result.transcript == "Январь и февраль" and result.romanized.isascii() and "anvar" in result.romanized
    assert given.language == "rus" and given.language_note == "given"


def test_whisper_detects_among_candidates(tmp_path, clips):
    from apps.inputs import read_clip
    from apps.langid import detect_for_cascade
    from cascade.recognizers.whisper_asr import WhisperRecognizer
    from tests.helpers.cascade_testing import tiny_whisper

    paths, _ = clips
    recognizer = WhisperRecognizer(model=str(tiny_whisper(tmp_path / "tiny.pt")), device="cpu")
    language, note = detect_for_cascade(recognizer, read_clip(paths["rus"]), None, ["eng", "rus", "tha"])
    assert language in {"eng", "rus", "tha"} and "Whisper's detect_language" in note


def test_first_use_training_reports_progress(tmp_path):
    from apps.training import Job, ensure_trained

    run = tmp_path / "done"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.ckpt").write_bytes(b"x")
    (run / "metrics.json").write_text("{}")
    messages: list[str] = []
    jobs = [Job("done", "speech.fit", [], run)]
    assert ensure_trained(jobs, say=messages.append) == [run] and messages == []  # nothing to train
    (run / "metrics.json").unlink()
    jobs[0].module = "apps.no_such_program"
    with pytest.raises(RuntimeError, match="training 'done' failed"):
        ensure_trained(jobs, say=messages.append)
    assert messages[0].startswith("First use: training 1") and "[1/1] python -m apps.no_such_program" in messages[1]


def test_cli_binds_localhost_by_default():
    from apps.demo import parse_args

    args = parse_args([])
    assert args.host == "127.0.0.1" and args.runs is None and not args.quick
    assert parse_args(["--runs", "a", "b", "--quick"]).runs == ["a", "b"]


def test_demo_predictions_match_the_runs_own(app, tiny_runs, tiny_corpus):
    """The adapters load the run's best checkpoint: one clip at a time in the demo gives the
    probabilities (and transcripts) the run wrote for its test items."""
    import json

    from speech.audio import load_audio

    items = {item.id: item for item in tiny_corpus.items}
    for name, model in (("e2e", models(app, "e2e")), ("cascade", models(app, "cascade"))):
        rows = [json.loads(line) for line in (tiny_runs / name / "predictions.jsonl").read_text().splitlines()]
        for row in rows[::15]:
            wave = load_audio(items[row["id"]].audio)
            if name == "e2e":
                probs = model.predict(wave)
            else:
                result = model.predict(wave, row["language"])
                assert result.transcript == row["transcript"]
                probs = result.probs
            assert probs == pytest.approx(row["probs"], abs=1e-4), (name, row["id"])


def test_fixture_e2e_run_has_a_best_checkpoint_that_is_not_its_latest(tiny_runs):
    """What gives :func:`test_demo_predictions_match_the_runs_own` its power: the E2E run tested (and
    wrote predictions.jsonl from) a best checkpoint whose weights differ from its latest epoch's, so a
    demo serving the newest checkpoint would give other probabilities than the run's own."""
    import torch

    folder = tiny_runs / "e2e" / "checkpoints"
    best, latest = sorted(folder.glob("best*.ckpt")), sorted(folder.glob("latest.ckpt"))
    assert len(best) == 1 and len(latest) == 1, sorted(folder.iterdir())
    best_ckpt = torch.load(best[0], map_location="cpu", weights_only=True)
    latest_ckpt = torch.load(latest[0], map_location="cpu", weights_only=True)
    assert best_ckpt["epoch"] < latest_ckpt["epoch"] == 2
    differ = [
        k for k in best_ckpt["state_dict"] if not torch.equal(best_ckpt["state_dict"][k], latest_ckpt["state_dict"][k])
    ]
    assert differ, "best and latest weights are equal: the fixture cannot tell them apart"


def test_results_without_a_report_says_how_to_make_one(tmp_path):
    from apps.results import find_report, load_report

    empty = load_report(sweeps=tmp_path)
    assert empty.folder is None and "workbench.report" in empty.markdown and not empty.rows
    assert find_report(tmp_path / "missing") is None


@pytest.mark.slow
def test_twenty_four_concurrent_requests_all_answered(app, clips):
    """Load: 24 clients at once (queued by gradio), every answer a full, valid result; latency printed."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file

    paths, _ = clips
    languages = ["rus", "eng", "tha", "stereo"]

    def one(k: int) -> float:
        start = time.monotonic()
        client = Client(app[1], verbose=False)
        e2e, _, note, transcript, romanized, cascade, _ = client.predict(
            handle_file(str(paths[languages[k % 4]])), "auto", api_name="/classify_speech"
        )
        assert set(_confidences(e2e)) == set(LABELS) and set(_confidences(cascade)) == set(LABELS)
        return time.monotonic() - start

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        latencies = sorted(pool.map(one, range(24)))
    wall = time.monotonic() - start
    assert len(latencies) == 24
    print(f"24 concurrent requests: wall {wall:.1f} s, median {latencies[12]:.2f} s, max {latencies[-1]:.2f} s")


def test_requests_write_nothing_outside_gradio_temp(client, clips, tiny_runs, tiny_root):
    """Uploads stay in gradio's temp folder: runs, corpus and working directory are left untouched."""
    from gradio_client import handle_file

    def snapshot() -> set:
        watched = [Path(tiny_runs), Path(tiny_root), Path.cwd()]
        return {
            (str(p), p.stat().st_mtime_ns)
            for root in watched
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts  # Python's own bytecode cache may appear
        }

    paths, _ = clips
    before = snapshot()
    client.predict(handle_file(str(paths["rus"])), "auto", api_name="/classify_speech")
    assert snapshot() == before
