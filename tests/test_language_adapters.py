"""MAD-X-style language adapters on peft LoRA (cascade/language_adapters.py, cascade/fit_language_adapters.py) on a
tiny random XLM-R built from its config class: each text is classified under its own language's adapter (a mixed
batch as per-language batches), only the task adapter and the head train, a language without an adapter stops the
run or falls back to the task adapter alone, and the fit program trains each language's adapter on that
language's training texts only."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cascade.language_adapters import TASK, LanguageAdapterClassifier
from tests.helpers.language_adapter_testing import random_language_adapters, tiny_xlmr_mlm
from workbench.errors import ConfigError

TEXTS = ["march july may", "monday friday", "май июль", "понедельник", "april june", "воскресенье"]
LANGUAGES = ["eng", "eng", "rus", "rus", "eng", "rus"]
LABELS = torch.tensor([0, 1, 0, 1, 0, 1])


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


def by_hand(model: LanguageAdapterClassifier, texts: list[str], adapters: list[str]) -> torch.Tensor:
    """The reference: peft's own adapter switch on the wrapped model, then one plain forward."""
    model.model.base_model.set_adapter(adapters)
    batch = model.tokenizer(texts, padding=True, return_tensors="pt")
    return model.model(**batch).logits


@torch.no_grad()
def test_each_text_is_classified_under_its_own_language_adapter(stand_ins):
    model = classifier(stand_ins)
    assert model.languages == ["eng", "rus"]
    rus = [t for t, lang in zip(TEXTS, LANGUAGES, strict=True) if lang == "rus"]
    under_rus = model(rus, ["rus"] * len(rus))
    assert torch.allclose(under_rus, by_hand(model, rus, ["rus", TASK]), atol=1e-5)
    assert not torch.allclose(under_rus, by_hand(model, rus, ["eng", TASK]), atol=1e-3)  # swapped in, not eng's
    mixed = model(TEXTS, LANGUAGES)  # split by language inside, rows put back in order
    alone = torch.cat([model([t], [lang]) for t, lang in zip(TEXTS, LANGUAGES, strict=True)])
    assert torch.allclose(mixed, alone, atol=1e-5)


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
def test_a_language_without_an_adapter(stand_ins):
    with pytest.raises(ConfigError, match=r"no adapter for language 'deu' in '.*adapters'"):
        classifier(stand_ins)(TEXTS[:1], ["deu"])
    model = classifier(stand_ins, missing="none")
    assert torch.allclose(model(TEXTS[:2], ["deu", "deu"]), by_hand(model, TEXTS[:2], [TASK]), atol=1e-5)
    assert torch.allclose(model(TEXTS[:2], None), by_hand(model, TEXTS[:2], [TASK]), atol=1e-5)  # no language given


def test_an_adapters_folder_that_holds_none(stand_ins, tmp_path):
    base, _ = stand_ins
    with pytest.raises(ConfigError, match="adapters: no folder"):
        LanguageAdapterClassifier(str(base), str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="holds no language adapter"):
        LanguageAdapterClassifier(str(base), str(tmp_path))
