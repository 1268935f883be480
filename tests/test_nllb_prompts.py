"""NLLB-CLIP's text tower gets each prompt with its own language's FLORES token (a tiny local NLLB tokenizer)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from vision.module import VisionCLIP
from vision.prompts import tokenize
from workbench.errors import ConfigError

TEXTS = ["a photo of a cat", "фото кошки", "φωτογραφία", "a photo of a dog"]
LANGUAGES = ["eng", "rus", "ell_Grek", "eng"]


@pytest.fixture(scope="module")
def nllb(tmp_path_factory):
    """open_clip's HFTokenizer over a tiny NllbTokenizer saved locally (the real one's 202 language tokens)."""
    from open_clip.tokenizer import HFTokenizer
    from transformers import NllbTokenizer

    chars = sorted(set("".join(TEXTS).replace(" ", "")))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "▁": 4}
    for char in chars:
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(f"▁{char}", len(vocab))
    folder = tmp_path_factory.mktemp("nllb")
    NllbTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    return HFTokenizer(str(folder), context_length=24)


def first_tokens(tokenizer, ids: torch.Tensor) -> list[str]:
    return tokenizer.tokenizer.convert_ids_to_tokens(ids[:, 0].tolist())


def test_each_prompt_gets_its_language_token(nllb):
    ids = tokenize(nllb, TEXTS, LANGUAGES)
    assert first_tokens(nllb, ids) == ["eng_Latn", "rus_Cyrl", "ell_Grek", "eng_Latn"]
    # without languages, every text gets the tokenizer's current language: the silent error this prevents
    assert len(set(first_tokens(nllb, nllb(TEXTS)))) == 1
    nllb.set_language("rus_Cyrl")  # open_clip's own switch is undone by NLLB's tokenizer at each call
    assert first_tokens(nllb, nllb(TEXTS[:1])) == [nllb.tokenizer.src_lang] != ["rus_Cyrl"]
    # rows are the texts' own tokens, in input order
    for row, (text, lang) in enumerate(zip(TEXTS, LANGUAGES, strict=True)):
        assert torch.equal(ids[row], tokenize(nllb, [text], [lang])[0])
    assert torch.equal(ids[0, 1:], ids[0, 1:]) and not torch.equal(ids[1], tokenize(nllb, [TEXTS[1]], ["eng"])[0])


def test_language_codes_in_any_form_and_unknown_languages(nllb):
    assert first_tokens(nllb, tokenize(nllb, ["x", "x"], ["ru-RU", "tw-akuapem"])) == ["rus_Cyrl", "twi_Latn"]
    with pytest.raises(ConfigError, match="'nag'.*no language token 'nag_Latn'"):
        tokenize(nllb, ["x"], ["nag"])


def test_tokenizers_without_language_tokens_are_called_as_they_are():
    from vision.bundle import ByteTokenizer

    tokenizer = ByteTokenizer(16)
    assert torch.equal(tokenize(tokenizer, TEXTS, LANGUAGES), tokenizer(TEXTS))


def test_the_vision_module_passes_the_prompt_language(nllb):
    """VisionCLIP.prompt_features -> encode_text -> tokenize, with the prompts' language."""
    seen = []
    fake = SimpleNamespace(
        tokenizer=nllb,
        device=torch.device("cpu"),
        clip=SimpleNamespace(encode_text=lambda tokens, normalize: seen.append(tokens) or tokens.float()),
        prompt_texts=lambda language: ["a cat", "a dog"],
        _prompt_cache={},
    )
    fake.encode_text = lambda texts, languages=None: VisionCLIP.encode_text(fake, texts, languages)
    VisionCLIP.prompt_features(fake, "rus", cached=False)
    VisionCLIP.prompt_features(fake, "ell", cached=False)
    assert [first_tokens(nllb, t) for t in seen] == [["rus_Cyrl"] * 2, ["ell_Grek"] * 2]
