"""MAD-X-style language adapters on peft LoRA (cascade/language_adapters.py, cascade/fit_language_adapters.py) on a
tiny random XLM-R built from its config class: each text is classified under its own language's adapter (a mixed
batch as per-language batches), only the task adapter and the head train, a language without an adapter stops the
run or falls back to the task adapter alone, and the fit program trains each language's adapter on that
language's training texts only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from cascade import fit_language_adapters
from cascade.classifier import TextClassifier
from cascade.data import TextDataset, collate_texts
from cascade.fit_language_adapters import FOLDER, MaskedLMAdapters
from cascade.language_adapters import TASK, LanguageAdapterClassifier, adapter_folders
from tests.helpers.language_adapter_testing import random_language_adapters, tiny_xlmr_mlm
from workbench.errors import ConfigError, DataError
from workbench.io import read_json
from workbench.items import Item
from workbench.lora import LoraSettings

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

TEXTS = ["march july may", "monday friday", "май июль", "понедельник", "april june", "воскресенье"]
LANGUAGES = ["eng", "eng", "rus", "rus", "eng", "rus"]
LABELS = torch.tensor([0, 1, 0, 1, 0, 1])


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """A tiny XLM-R masked LM and random adapters for eng and rus (none for deu)."""
    folder = tmp_path_factory.mktemp("madx")
    base = tiny_xlmr_mlm(folder / "xlmr", TEXTS * 4)
    return base, random_language_adapters(folder / "adapters", base, ["eng", "rus"])


def classifier(stand_ins, **kwargs) -> LanguageAdapterClassifier:
    base, adapters = stand_ins
    torch.manual_seed(0)
    model = LanguageAdapterClassifier(str(base), str(adapters), **kwargs)
    model.build(2)
    for name, param in model.model.named_parameters():  # LoRA's B starts at 0: nudge the task's so that it acts
        if f"lora_B.{TASK}." in name:
            param.data.normal_(0, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def built(stand_ins) -> LanguageAdapterClassifier:
    """One classifier for the tests that only read it (each forward sets the adapters it needs)."""
    return classifier(stand_ins)


def by_hand(model: LanguageAdapterClassifier, texts: list[str], adapters: list[str]) -> torch.Tensor:
    """The reference: peft's own adapter switch on the wrapped model, then one plain forward."""
    model.model.base_model.set_adapter(adapters)
    batch = model.tokenizer(texts, padding=True, return_tensors="pt")
    return model.model(**batch).logits


@torch.no_grad()
def test_each_text_is_classified_under_its_own_language_adapter(built):
    model = built
    assert model.languages == ["eng", "rus"]
    rus = [t for t, lang in zip(TEXTS, LANGUAGES, strict=True) if lang == "rus"]
    under_rus = model(rus, ["rus"] * len(rus))
    assert torch.allclose(under_rus, by_hand(model, rus, ["rus", TASK]), atol=1e-5)
    assert not torch.allclose(under_rus, by_hand(model, rus, ["eng", TASK]), atol=1e-3)  # swapped in, not eng's
    mixed = model(TEXTS, LANGUAGES)  # split by language inside, rows put back in order
    alone = torch.cat([model([t], [lang]) for t, lang in zip(TEXTS, LANGUAGES, strict=True)])
    assert torch.allclose(mixed, alone, atol=1e-5)


@torch.no_grad()
def test_the_classifier_hands_each_text_its_items_language(built):
    """cascade/data.py's batches carry the items' languages; TextClassifier passes them to the model (predict, and
    predict_texts as the demo calls it)."""
    model = built
    items = [Item(f"i{k}", f"c{k}", lang, 0, "test", text=TEXTS[k]) for k, lang in enumerate(LANGUAGES)]
    batch = next(iter(DataLoader(TextDataset(items, TEXTS), batch_size=len(TEXTS), collate_fn=collate_texts)))
    assert batch["languages"] == LANGUAGES
    wrapped = TextClassifier(model, num_classes=2)
    expected = model(TEXTS, LANGUAGES).softmax(-1)
    assert torch.allclose(wrapped.predict_step(batch, 0)[1], expected, atol=1e-5)
    assert torch.allclose(wrapped.predict_texts(TEXTS, LANGUAGES, batch_size=4), expected, atol=1e-5)


def test_only_the_task_adapter_and_the_head_train(stand_ins):
    model = classifier(stand_ins).train()
    before = {n: p.detach().clone() for n, p in model.model.named_parameters()}
    (optimizer,) = model.make_optimizers(lr=0.05, weight_decay=0.01)
    # a mixed batch, then one language alone (its adapter the one active during backward), for each language
    steps = [(TEXTS, LANGUAGES, LABELS)]
    for language in ("eng", "rus"):
        rows = [k for k, lang in enumerate(LANGUAGES) if lang == language]
        steps.append(([TEXTS[k] for k in rows], [language] * len(rows), LABELS[rows]))
    for texts, languages, labels in steps:
        optimizer.zero_grad()
        F.cross_entropy(model(texts, languages), labels).backward()
        optimizer.step()
    changed = {n for n, p in model.model.named_parameters() if not torch.equal(p, before[n])}
    task = {n for n in before if f".{TASK}." in n and "lora_" in n}
    head = {n for n in before if ".classifier." in n}
    assert changed == task | head and task and head  # language adapters and the base unchanged


@torch.no_grad()
def test_a_language_without_an_adapter(stand_ins, built):
    with pytest.raises(ConfigError, match=r"no adapter for language 'deu' in '.*adapters'"):
        built(TEXTS[:1], ["deu"])
    model = classifier(stand_ins, missing="none")
    assert torch.allclose(model(TEXTS[:2], ["deu", "deu"]), by_hand(model, TEXTS[:2], [TASK]), atol=1e-5)
    assert torch.allclose(model(TEXTS[:2], None), by_hand(model, TEXTS[:2], [TASK]), atol=1e-5)  # no language given
    # the demo's texts: one language known, one not (None): each keeps what it has
    mixed = model(TEXTS[:2], ["eng", None])
    assert torch.allclose(mixed[:1], by_hand(model, TEXTS[:1], ["eng", TASK]), atol=1e-5)
    assert torch.allclose(mixed[1:], by_hand(model, TEXTS[1:2], [TASK]), atol=1e-5)
    with pytest.raises(ConfigError, match="no adapter for a text whose language is not given"):
        built(TEXTS[:1], [None])


def test_an_adapters_folder_that_holds_none(stand_ins, tmp_path):
    base, _ = stand_ins
    with pytest.raises(ConfigError, match="adapters: no folder"):
        LanguageAdapterClassifier(str(base), str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="holds no language adapter"):
        LanguageAdapterClassifier(str(base), str(tmp_path))


FIT_CONFIG = CONFIGS / "language_adapters" / "xlmr.yaml"


def tiny_fit_args(corpus, root: Path, base: Path) -> list[str]:
    """cascade.fit_language_adapters over its shipped config on the tiny corpus and a tiny XLM-R, on CPU."""
    return [
        "-c",
        str(FIT_CONFIG),
        "--data.source=speech.sources.Embedded",
        f"--data.source.root={root}",
        "--data.source.tiny=true",
        "--data.source.languages=[" + ", ".join(corpus.languages) + "]",
        "--data.batch_size=8",
        f"--model.model={base}",
        "--model.lora.r=4",
        "--model.optim.lr=0.03",
        "--trainer.accelerator=cpu",
        "--trainer.precision=32",
        "--trainer.max_steps=12",
        "--trainer.val_check_interval=6",
        "--trainer.enable_progress_bar=false",
        "--threads=1",  # a tiny model: a second thread only waits on the first (and on a shared CPU, longer)
    ]


@pytest.fixture(scope="module")
def fitted(tiny_corpus, tiny_root, tmp_path_factory):
    """The fit program run once, with every text its model read recorded: ``(run_dir, base, reads)``."""
    folder = tmp_path_factory.mktemp("language_adapters")
    texts = [i.text for i in tiny_corpus.items] + ["ф е ж"]  # as tiny_cascade_args' classifier, so its base too
    base = tiny_xlmr_mlm(folder / "xlmr", texts)
    reads = []
    original = MaskedLMAdapters.mlm_loss

    def recorded(self, language, texts, seed=None):
        reads.append((language, tuple(texts), seed is None and self.training))
        return original(self, language, texts, seed)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MaskedLMAdapters, "mlm_loss", recorded)
        fit_language_adapters.main([*tiny_fit_args(tiny_corpus, tiny_root, base), f"--run_dir={folder / 'run'}"])
    return folder / "run", base, reads


def test_the_fit_program_trains_each_language_on_its_own_training_texts(fitted, tiny_corpus):
    run_dir, _, reads = fitted
    folder = run_dir / FOLDER
    assert sorted(adapter_folders(folder)) == sorted(tiny_corpus.languages)
    for language, adapter in adapter_folders(folder).items():  # each written trained (LoRA's B starts at 0)
        weights = load_file(adapter / "adapter_model.safetensors")
        assert any(v.abs().sum() > 0 for k, v in weights.items() if "lora_B" in k), language
    scores = read_json(folder / "dev_scores.json")
    for language in tiny_corpus.languages:
        assert scores[language]["after"] < scores[language]["before"], scores  # the dev MLM loss drops
        assert scores[language]["train_texts"] == 24 and scores[language]["dev_texts"] == 6
    said = {(i.split, i.language): set() for i in tiny_corpus.items}
    for item in tiny_corpus.items:
        said[item.split, item.language].add(item.text)
    trained = [(language, texts) for language, texts, training in reads if training]
    assert {language for language, _ in trained} == set(tiny_corpus.languages)
    for language, texts, training in reads:  # its own language's training texts when training, dev texts else
        split = "train" if training else "dev"
        assert set(texts) <= said[split, language], (language, split, texts)


def test_each_language_keeps_its_adapter_of_lowest_dev_loss(stand_ins):
    """Checks on dev: each language's adapter is written as it was at its own best check, not at the last."""
    from types import SimpleNamespace

    from peft import get_peft_model_state_dict

    base, _ = stand_ins
    module = MaskedLMAdapters(str(base), lora=LoraSettings(r=2, alpha=4))
    module._trainer = SimpleNamespace(sanity_checking=False, datamodule=SimpleNamespace(languages=["eng", "rus"]))
    module.configure_model()

    def check(weights: dict[str, float], losses: dict[str, float]) -> None:
        for name, param in module.net.named_parameters():
            for language, value in weights.items():
                if f"lora_B.{language}." in name:
                    param.data.fill_(value)
        module._dev = {language: [loss * 10, 10] for language, loss in losses.items()}  # 10 masked tokens
        module.on_validation_epoch_end()

    check({"eng": 1.0, "rus": 1.0}, {"eng": 2.0, "rus": 3.0})
    check({"eng": 2.0, "rus": 5.0}, {"eng": 2.5, "rus": 1.0})  # eng worse, rus better
    check({"eng": 3.0, "rus": 7.0}, {"eng": 2.2, "rus": 1.5})  # both worse than their best
    module.keep_best()
    for language, expected in (("eng", 1.0), ("rus", 5.0)):
        weights = get_peft_model_state_dict(module.net, adapter_name=language)
        assert all(torch.all(v == expected) for k, v in weights.items() if "lora_B" in k), language


def test_a_resumed_fit_keeps_each_best_check_and_the_losses_before(stand_ins):
    """--ckpt_path resumes from a checkpoint: each language's best check so far and the base's dev losses come back
    with it (a resumed run would else write adapters of its own later checks only, and no loss before training)."""
    from types import SimpleNamespace

    base, _ = stand_ins
    trainer = SimpleNamespace(sanity_checking=False, datamodule=SimpleNamespace(languages=["eng", "rus"]))
    first, resumed = (MaskedLMAdapters(str(base), lora=LoraSettings(r=2, alpha=4)) for _ in range(2))
    for module in (first, resumed):
        module._trainer = trainer
        module.configure_model()
    first.before = {"eng": 6.0, "rus": 7.0}
    first._dev = {"eng": [20.0, 10], "rus": [30.0, 10]}
    first.on_validation_epoch_end()
    checkpoint = {}
    first.on_save_checkpoint(checkpoint)
    saved = io.BytesIO()
    torch.save(checkpoint, saved)
    saved.seek(0)
    checkpoint = torch.load(saved, weights_only=True)  # as Lightning reads it back (weights_only=True)
    resumed.on_load_checkpoint(checkpoint)
    resumed.on_train_start()  # no dev pass: the losses before are the checkpoint's
    assert resumed.before == first.before
    resumed._dev = {"eng": [25.0, 10], "rus": [10.0, 10]}  # eng worse than its best before the resume, rus better
    resumed.on_validation_epoch_end()
    assert {language: loss for language, (loss, _) in resumed.best.items()} == {"eng": 2.0, "rus": 1.0}
    eng = first.best["eng"][1]
    assert all(torch.equal(resumed.best["eng"][1][k], v) for k, v in eng.items())


def test_a_language_without_training_text_is_named(tiny_corpus, tiny_root, tmp_path, fitted):
    _, base, _ = fitted
    args = [*tiny_fit_args(tiny_corpus, tiny_root, base), "--data.languages=[eng, fra]", f"--run_dir={tmp_path}"]
    with pytest.raises(DataError, match="language 'fra' field 'text': no training text"):
        fit_language_adapters.main(args)
