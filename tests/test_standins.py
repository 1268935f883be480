"""Issue 30's stand-ins trained here for the embedded sweep: the tiny translator of ca-translated-standin
(cascade.fit_translator: pairs from the training split only, a folder cascade.translate.Translator loads,
and it does learn the corpus' texts), and the sweep file's per-system protocols that keep the stand-ins to
zero-shot. Their points through the shipped sweep and the report's ladder: tests/test_sweep_embedded.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cascade import fit_translator
from cascade.translate import Translator
from workbench.errors import ConfigError
from workbench.io import read_json
from workbench.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]
TRANSLATOR = ROOT / "configs" / "embedded" / "translator.yaml"


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
    assert sorted(standins) == ["ca-pixel-standin", "ca-translated-standin"]
    assert all(protocols[s] == {"zero_shot"} for s in standins)
    assert protocols["ca-native"] == {"in_language", "zero_shot", "all_languages"}  # the default: every protocol
    assert "setup/translator" in {p.tag for p in sweep.setup}
    spec = yaml.safe_load((ROOT / "configs" / "sweeps" / "embedded.yaml").read_text())
    spec["systems"]["ca-pixel-standin"]["protocols"] = ["zero_shot", "cross_lingual"]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"systems.ca-pixel-standin.protocols: \['cross_lingual'\]"):
        load_sweep(path)
