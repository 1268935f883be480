"""Translate-test: the translate stage (language tokens from the item, cache) and the cascade through cascade.fit
with configs/translator/nllb.yaml on tiny stand-ins (a random tiny NLLB-shaped translator: nothing is downloaded,
so the translations are random characters; the test is of the plumbing, not of translation quality)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cascade import fit
from cascade.translate import TranslateStage, Translator
from tests.helpers.report_runs import item_rows, write_run
from tests.helpers.text_systems_testing import tiny_cascade_args, tiny_nllb, tiny_translator_args
from workbench.errors import ConfigError
from workbench.io import atomic_write_json, read_json
from workbench.report.build import build_report

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TRANSLATOR_CONFIGS = sorted((CONFIGS / "translator").glob("*.yaml"))
TEXTS = {"rus": "январь февраль", "deu": "März und Juli", "eng": "march and july"}


@pytest.fixture(scope="module")
def nllb(tmp_path_factory, tiny_corpus):
    texts = [i.text for i in tiny_corpus.items] + list(TEXTS.values())
    return tiny_nllb(tmp_path_factory.mktemp("nllb") / "nllb", texts)


class SourceTokens:
    """Records the first token of every row the translator's encoder reads (its source-language token)."""

    def __init__(self, translator: Translator):
        model, self.tokenizer = translator.load()
        self.seen: list[str] = []
        model.get_encoder().register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.seen += self.tokenizer.convert_ids_to_tokens(ids[:, 0].tolist())


def test_each_text_is_translated_from_its_own_language_and_cached(nllb, tmp_path):
    translator = Translator(str(nllb), max_new_tokens=6, device="cpu")
    tokens = SourceTokens(translator)
    languages = ["rus", "deu", "eng", "ru-RU"]
    texts = [TEXTS["rus"], TEXTS["deu"], TEXTS["eng"], TEXTS["rus"]]
    stage = TranslateStage(translator, tmp_path)
    out = stage(texts, languages)
    assert sorted(tokens.seen) == ["deu_Latn", "rus_Cyrl"]  # one row per distinct (language, text); eng not translated
    assert out[2] == TEXTS["eng"] and out[0] != TEXTS["rus"] and out[1] != TEXTS["deu"] and all(out)
    assert out[3] == out[0]  # ru-RU is rus: the same cache entry
    # a new process (a fresh stage) reads every translation back: the model runs on nothing
    again = TranslateStage(translator, tmp_path)
    assert again(texts, languages) == out
    assert len(tokens.seen) == 2 and again.cache.misses == 0
    # another decoding option is another cache folder: translated again
    longer = TranslateStage(Translator(str(nllb), max_new_tokens=7, device="cpu"), tmp_path)
    assert longer.cache.folder != stage.cache.folder and len(longer.cache) == 0


def test_a_language_the_translator_lacks_is_named(nllb):
    translator = Translator(str(nllb), device="cpu")
    with pytest.raises(ConfigError, match="language 'nag' .*no token.*nag_Latn"):
        translator.translate(["x"], "nag")
    with pytest.raises(ConfigError, match="data.translator.model: cannot load"):
        Translator(str(nllb.parent / "missing")).load()


def test_translation_needs_native_text(tiny_corpus, tiny_root, nllb, tmp_path):
    args = ["-c", str(CONFIGS / "cascade" / "speechtaxi.yaml"), "-c", str(TRANSLATOR_CONFIGS[0])]
    with pytest.raises(ConfigError, match="data.translator: translation reads native text"):
        fit.main([*args, "--data.script=romanized", f"--run_dir={tmp_path}"])


@pytest.mark.parametrize("config", TRANSLATOR_CONFIGS, ids=lambda p: p.stem)
def test_translate_test_cascade_runs_through_its_program(config, tiny_corpus, tiny_root, nllb, tmp_path):
    args = ["-c", str(CONFIGS / "cascade" / "speechtaxi.yaml"), "-c", str(CONFIGS / "recognizer" / "mms.yaml")]
    args += ["-c", str(config), "-c", str(CONFIGS / "protocol" / "zero_shot.yaml")]
    args += tiny_cascade_args(tiny_corpus, tiny_root, tmp_path) + tiny_translator_args(nllb)
    cli = fit.main([*args, f"--run_dir={tmp_path / 'run'}"])
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics["record"]["system"] == "ca-translated"
    assert metrics["record"]["model"]["translator"]["weights_sha256"]
    data = cli.datamodule
    targets = [i for i in data.eval_items("test") if i.language != "eng"]
    assert targets and set(metrics["sections"]["gold_text"]["splits"]["test"]["per_language"]) == set(
        tiny_corpus.languages
    )
    # the classifier read English: every target item's gold text and transcript went through the translator
    stage = TranslateStage(data.translator, data.cache_dir)
    for item in targets:
        assert data.gold_text[item.id] == stage.cache.get(TranslateStage.key(item.text, item.language))
        assert data.asr_text[item.id] == stage.cache.get(TranslateStage.key(data.transcripts[item.id], item.language))
    english = [i for i in data.eval_items("test") if i.language == "eng"]
    assert all(data.gold_text[i.id] == i.text for i in english)


def test_translated_rungs_climb_after_the_romanized_ones(tmp_path):
    """The ladder: gold native -> gold romanized -> gold translated -> the cascades on recognized text in that order."""
    for system, script in [("ca-translated", "native"), ("ca-romanized", "romanized"), ("ca-native", "native")]:
        rows = item_rows("rus", [True, False, True, True]) + item_rows("eng", [True] * 4)
        run = write_run(
            tmp_path / "runs" / system,
            rows,
            path="cascade",
            system=system,
            sources=["eng"],
            script=script,
            asr={"test": {"rus": (0.2, 0.4), "eng": (0.1, 0.2)}},
            gold={"test": {"rus": 0.5, "eng": 1.0}},
        )
        if system == "ca-translated":  # as cascade.fit records a translate-test run
            metrics = read_json(run / "metrics.json")
            metrics["record"]["model"]["translator"] = {"translator": "hf-seq2seq", "name": "nllb"}
            atomic_write_json(run / "metrics.json", metrics)
    report = build_report(tmp_path / "runs", tmp_path / "report")
    with (report / "ladder_test.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["language"] == "rus"]
    order = [row["system"] for row in sorted(rows, key=lambda r: int(r["rung"]))]
    cascades = ["ca-native", "ca-romanized", "ca-translated"]
    assert order == [f"{c}:gold" for c in cascades] + cascades
