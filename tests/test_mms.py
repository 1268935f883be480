"""MMS through the hf_ctc recognizer: adapters picked by the language table from the model's own
keys (MMS-1b-all), and the zero-shot model that writes uroman tokens, both on tiny local replicas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from cascade.recognizers.hf_ctc import HFCTCRecognizer
from tests.helpers.cascade_testing import ZEROSHOT_TOKENS, noise_clips, write_processor_files
from workbench.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "recognizer" / "mms_zeroshot.yaml"
# mms-meta/mms-zeroshot-300m's tokens.txt, in order: 4 specials, the word delimiter, uroman's letters
ADAPTER_ALPHABETS = {"eng": "abcdefgh", "urd-script_arabic": "ابپتثجچح", "rus": "абвгдежз"}


def tiny_config(vocab_size: int, **extra):
    from transformers import Wav2Vec2Config

    from tests.helpers.speech_stand_ins import CONV, TRANSFORMER

    return Wav2Vec2Config(
        vocab_size=vocab_size,
        **TRANSFORMER,
        **CONV,
        do_stable_layer_norm=True,  # as the MMS models (wav2vec2 large, pre-norm)
        feat_extract_norm="layer",
        conv_bias=True,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        **extra,
    )


def letters_win(model, first_letter: int) -> None:
    """Push the CTC head towards letters, so a random model writes text rather than only blanks."""
    with torch.no_grad():
        model.lm_head.bias[first_letter:] += 4.0


def tiny_zeroshot(folder: Path) -> Path:
    """A random Wav2Vec2ForCTC with mms-zeroshot-300m's vocabulary and its processor files."""
    from transformers import Wav2Vec2ForCTC

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(ZEROSHOT_TOKENS)}))
    write_processor_files(folder, target_lang=None)
    torch.manual_seed(0)
    model = Wav2Vec2ForCTC(tiny_config(len(ZEROSHOT_TOKENS)))
    letters_win(model, ZEROSHOT_TOKENS.index("a"))
    model.save_pretrained(folder)
    return folder


def tiny_mms_all(folder: Path) -> Path:
    """A random MMS-1b-all replica: a nested (per-language) vocab.json and one adapter file per language."""
    from safetensors.torch import save_file
    from transformers import Wav2Vec2ForCTC

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "|"]
    vocab = {lang: {t: i for i, t in enumerate(specials + list(chars))} for lang, chars in ADAPTER_ALPHABETS.items()}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    write_processor_files(folder, target_lang="eng")
    torch.manual_seed(0)
    model = Wav2Vec2ForCTC(tiny_config(len(specials) + 8, adapter_attn_dim=8))
    for lang in ADAPTER_ALPHABETS:
        weights = {name: torch.randn_like(p) * 0.5 for name, p in model._get_adapters().items()}
        weights["lm_head.bias"] = torch.cat([torch.zeros(len(specials)), torch.full((8,), 4.0)])
        save_file(weights, folder / f"adapter.{lang}.safetensors")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def clips():
    return noise_clips(4, seed=3)


def from_config(**overrides) -> HFCTCRecognizer:
    """The recognizer the shipped config builds, with the model replaced by a local replica."""
    spec = yaml.safe_load(CONFIG.read_text())["data"]["recognizer"]
    assert spec["class_path"] == "cascade.recognizers.HFCTCRecognizer"
    return HFCTCRecognizer(**{**spec["init_args"], **overrides})


def test_zeroshot_config_writes_uroman_tokens(tmp_path, clips):
    folder = tiny_zeroshot(tmp_path / "mms-zeroshot")
    assert {p.name for p in folder.iterdir()} >= {
        "vocab.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "preprocessor_config.json",
        "config.json",
        "model.safetensors",
    }
    rec = from_config(model=str(folder), device="cpu")
    assert rec.script == "romanized" and not rec.uses_language and not rec.use_adapters()
    assert rec.load()[1].tokenizer.convert_ids_to_tokens(list(range(32))) == ZEROSHOT_TOKENS
    texts = rec.transcribe(clips, [None, "bgc", "tw-asante", "eng"])
    assert all(texts) and len(set(texts)) > 1  # text, and not the same for every clip
    letters = set("".join(ZEROSHOT_TOKENS[5:])) | {" "}
    assert all(set(text) <= letters for text in texts), texts
    described = rec.describe()
    assert described["script"] == "romanized" and described["weights_sha256"]


def test_mms_adapters_are_chosen_by_the_language_table(tmp_path, clips):
    rec = HFCTCRecognizer(str(tiny_mms_all(tmp_path / "mms-all")), device="cpu", batch_size=2)
    assert rec.use_adapters() and rec.adapter_keys() == set(ADAPTER_ALPHABETS)
    assert rec.adapter_code("urd") == "urd-script_arabic" and rec.adapter_code("ru-RU") == "rus"
    texts = rec.transcribe(clips, ["urd", "eng", "urd_Arab", "rus"])
    for text, alphabet in zip(texts, ["urd-script_arabic", "eng", "urd-script_arabic", "rus"], strict=True):
        assert text and set(text) <= set(ADAPTER_ALPHABETS[alphabet]) | {" "}, (text, alphabet)
    assert rec.load()[0].target_lang in ADAPTER_ALPHABETS
    with pytest.raises(ConfigError, match="'ell'.*no adapter"):
        rec.transcribe(clips[:1], ["ell"])
    mapped = HFCTCRecognizer(str(tmp_path / "mms-all"), language_map={"ell": "rus"}, device="cpu")
    assert set(mapped.transcribe(clips[:1], ["ell"])[0]) <= set(ADAPTER_ALPHABETS["rus"]) | {" "}
