"""Issue 30's stand-ins trained here for the embedded sweep: the tiny translator of ca-translated-standin
(cascade.fit_translator: pairs from the training split only, a folder cascade.translate.Translator loads,
and it does learn the corpus' texts), the tiny masked LM under ca-madx-standin and ca-xlmr-standin
(cascade.fit_masked_lm: it learns from the training texts only, and its folder loads like a hub id as the
language adapters' and the classifiers' base), and the sweep file's per-system protocols that keep the
stand-ins to zero-shot. Their points through the shipped sweep and the report's ladder:
tests/test_sweep_embedded.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from cascade import fit_language_adapters, fit_masked_lm, fit_translator
from cascade.asr_text import normalize
from cascade.language_adapters import LanguageAdapterClassifier
from cascade.text_models import HFSequenceClassifier
from cascade.translate import Translator
from workbench.errors import ConfigError
from workbench.io import read_json
from workbench.sweep import load_sweep
from workbench.sweep.spec import reads

ROOT = Path(__file__).resolve().parents[1]
TRANSLATOR = ROOT / "configs" / "embedded" / "translator.yaml"
MASKED_LM = ROOT / "configs" / "embedded" / "masked_lm.yaml"
LANGUAGE_ADAPTERS = ROOT / "configs" / "embedded" / "language_adapters.yaml"


@pytest.fixture(scope="module")
def trained(tiny_corpus, tiny_root, tmp_path_factory):
    """The translator program on the tiny corpus, a smaller model, until it has seen its pairs ~60 times; its kept
    checkpoint the lowest training loss (the tiny dev set, unseen names only, picks the untrained start)."""
    run_dir = tmp_path_factory.mktemp("translator") / "run"
    args = ["-c", str(TRANSLATOR), f"--data.source.init_args.root={tiny_root}", "--data.source.init_args.tiny=true"]
    args += ["--model.d_model=64", "--model.ffn_dim=128", "--model.dropout=0.0", "--model.optim.lr=0.005"]
    args += ["--trainer.max_steps=120", "--trainer.callbacks=[]", "--monitor=train/loss", "--threads=1"]
    args += [f"--run_dir={run_dir}"]
    run = fit_translator.main(args)
    return run, run_dir / fit_translator.FOLDER


def test_pairs_are_training_texts_with_their_english_translation(trained, tiny_corpus):
    run, _ = trained
    data = run.parsed.datamodule
    pairs = fit_translator.parallel_pairs(data.selection["train"], "eng")
    languages = {i.language for i in tiny_corpus.items} - {"eng"}
    assert {s.language for s, _ in pairs} == languages and len(pairs) == 24 * len(languages)
    assert all(t.language == "eng" and s.content_id == t.content_id and s.split == t.split == "train" for s, t in pairs)
    # what trains is what the data module batches: no dev or test text reaches the training loader
    trained_texts = {row[0] for row in data.dataset("train", train=True).rows}
    seen = {i.text for i in tiny_corpus.items if i.split == "train"}
    held = {i.text for i in tiny_corpus.items if i.split != "train"} - seen
    assert trained_texts and not trained_texts & held


def test_the_translator_folder_loads_and_has_learnt_its_training_texts(trained, tiny_corpus):
    run, folder = trained
    translator = Translator(str(folder), max_new_tokens=48, device="cpu")
    assert translator.describe()["weights_sha256"]
    pairs = fit_translator.parallel_pairs(run.parsed.datamodule.selection["train"], "eng")
    russian = [(s.text, t.text) for s, t in pairs if s.language == "rus"]
    translated = translator.translate([s for s, _ in russian], "rus")
    # a random model of this shape writes no English name; 120 steps on 72 pairs learn many texts word for word
    exact = sum(h == t for h, (_, t) in zip(translated, russian, strict=True)) / len(russian)
    assert exact >= 0.25, list(zip(translated, russian, strict=True))[:3]
    scores = read_json(folder / "dev_scores.json")
    assert set(scores["per_language"]) == {i.language for i in tiny_corpus.items} - {"eng"}


def test_a_system_runs_only_in_its_own_protocols(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    sweep = load_sweep(ROOT / "configs" / "sweeps" / "embedded.yaml")
    protocols = {}
    for point in sweep.points:
        protocols.setdefault(point.system, set()).add(point.protocol)
    standins = [s for s in protocols if s.endswith("-standin")]
    assert sorted(standins) == ["ca-madx-standin", "ca-pixel-standin", "ca-translated-standin", "ca-xlmr-standin"]
    assert all(protocols[s] == {"zero_shot"} for s in standins)
    assert protocols["ca-native"] == {"in_language", "zero_shot", "all_languages"}  # the default: every protocol
    steps = {p.system: p for p in sweep.setup}
    assert {"translator", "masked-lm", "language-adapters"} <= set(steps)
    assert reads(steps["language-adapters"], steps["masked-lm"])  # so it starts once the masked LM has ended
    spec = yaml.safe_load((ROOT / "configs" / "sweeps" / "embedded.yaml").read_text())
    spec["systems"]["ca-pixel-standin"]["protocols"] = ["zero_shot", "cross_lingual"]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"systems.ca-pixel-standin.protocols: \['cross_lingual'\]"):
        load_sweep(path)


@pytest.fixture(scope="module")
def pretrained(tiny_corpus, tiny_root, tmp_path_factory):
    """The masked-LM program on the tiny corpus, a smaller model and vocabulary (the dev texts' names are unseen: with
    300 pieces most Russian words are whole pieces, so a dev name is pieces training hardly saw), every text its
    model read recorded:
    ``(run_dir, reads)``, each read ``(language, texts, training)``."""
    run_dir = tmp_path_factory.mktemp("masked_lm") / "run"
    args = ["-c", str(MASKED_LM), f"--data.source.init_args.root={tiny_root}", "--data.source.init_args.tiny=true"]
    args += ["--model.hidden_size=32", "--model.layers=2", "--model.heads=2", "--model.intermediate_size=64"]
    args += ["--data.vocab_size=150", "--data.batch_size=8", "--model.optim.lr=0.005", "--trainer.max_steps=60"]
    args += ["--trainer.callbacks=[]", "--threads=1", f"--run_dir={run_dir}"]
    reads, original = [], fit_masked_lm.TinyMaskedLM.mlm_loss

    def recorded(self, language, texts, seed=None):
        reads.append((language, tuple(texts), seed is None and self.training))
        return original(self, language, texts, seed)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit_masked_lm.TinyMaskedLM, "mlm_loss", recorded)
        fit_masked_lm.main(args)
    return run_dir, reads


def test_the_masked_lm_learns_from_the_training_texts_only(pretrained, tiny_corpus):
    run_dir, reads = pretrained
    scores = read_json(run_dir / fit_masked_lm.FOLDER / "dev_scores.json")
    assert set(scores) == set(tiny_corpus.languages)
    falls = [score["before"] - score["after"] for score in scores.values()]
    # 60 steps on 96 texts: the dev MLM loss falls in every language (least in Thai, written without spaces)
    assert min(falls) > 0.05 and sum(falls) / len(falls) > 0.3, scores
    assert all(score["train_texts"] == 24 and score["dev_texts"] == 6 for score in scores.values())
    said = {}
    for item in tiny_corpus.items:
        said.setdefault((item.split, item.language), set()).add(item.text)
    trained = {language for language, _, training in reads if training}
    assert trained == set(tiny_corpus.languages)
    for language, texts, training in reads:  # its own language's training texts when training, dev texts else
        assert set(texts) <= said["train" if training else "dev", language], (language, training, texts)


def test_the_masked_lm_folder_loads_as_the_base_of_madx_and_of_full_fine_tuning(
    pretrained, tiny_corpus, tiny_root, tmp_path
):
    """Loaded like a hub id: by the language adapters' program (the shipped embedded config: its base alone scores
    on dev what the kept checkpoint scored, so the folder holds that checkpoint and its tokenizer), then by MAD-X's
    classifier over those adapters and by the fine-tuned classifier, whose tokenizer reads a gold text as the
    recognizer would write it (lowercase, no punctuation: what the cascade classifies at test)."""
    run_dir, _ = pretrained
    folder = run_dir / fit_masked_lm.FOLDER
    args = ["-c", str(LANGUAGE_ADAPTERS), f"--data.source.init_args.root={tiny_root}"]
    args += ["--data.source.init_args.tiny=true", f"--model.model={folder}", "--model.lora.r=4", "--data.batch_size=8"]
    args += ["--trainer.max_steps=12", "--threads=1", f"--run_dir={tmp_path / 'adapters'}"]
    fit_language_adapters.main(args)
    adapters = tmp_path / "adapters" / fit_language_adapters.FOLDER
    base_alone = read_json(adapters / "dev_scores.json")
    kept = read_json(folder / "dev_scores.json")
    assert {k: v["before"] for k, v in base_alone.items()} == pytest.approx({k: v["after"] for k, v in kept.items()})
    texts = [i.text for i in tiny_corpus.items[:6]]
    languages = [i.language for i in tiny_corpus.items[:6]]
    madx = LanguageAdapterClassifier(str(folder), str(adapters), max_length=64)
    madx.build(len(tiny_corpus.label_names))
    assert madx.languages == sorted(tiny_corpus.languages)
    fine_tuned = HFSequenceClassifier(str(folder), max_length=64)
    fine_tuned.build(len(tiny_corpus.label_names))
    for model in (madx, fine_tuned):
        with torch.no_grad():
            assert model(texts, languages).shape == (6, len(tiny_corpus.label_names))
    assert fine_tuned.model.config.model_type == "xlm-roberta"
    # the tokenizer loaded back keeps the transcript form: a gold text and its recognizer-style transcript alike
    tokenizer = fine_tuned.tokenizer
    assert all(tokenizer(text)["input_ids"] == tokenizer(normalize(text))["input_ids"] for text in texts) and any(
        text != normalize(text) for text in texts
    )
    assert all(fit_masked_lm.transcript_form().normalize_str(i.text) == normalize(i.text) for i in tiny_corpus.items)
