"""Tiny stand-ins for the cascade's pretrained models, built locally (never downloaded).

Used by tests/test_cascade_*.py, tests/test_configs_cascade.py and the cascade benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

TINY_WHISPER_DIMS = dict(
    n_mels=80,
    n_audio_ctx=1500,
    n_audio_state=64,
    n_audio_head=2,
    n_audio_layer=2,
    n_vocab=51865,
    n_text_ctx=448,
    n_text_state=64,
    n_text_head=2,
    n_text_layer=2,
)


def tiny_whisper(path: str | Path, seed: int = 0, std: float = 0.2) -> Path:
    """A random tiny Whisper (:data:`TINY_WHISPER_DIMS`) that ``whisper.load_model`` reads."""
    from tests.helpers.speech_stand_ins import random_whisper_checkpoint

    return random_whisper_checkpoint(path, TINY_WHISPER_DIMS, seed, std)


def noise_clips(n: int, seed: int = 0, low: float = 0.5, high: float = 3.0) -> list[np.ndarray]:
    """``n`` clips of coloured noise with a tone, of random lengths (16 kHz float32)."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        t = np.arange(int(16000 * rng.uniform(low, high))) / 16000
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t)
        clips.append((tone + 0.05 * rng.standard_normal(t.shape)).astype(np.float32))
    return clips


def tiny_wav2vec2_ctc(folder: str | Path, chars: str = "abcdefghijklmnopqrstuvwxyz") -> Path:
    """A random Wav2Vec2ForCTC + Wav2Vec2CTCTokenizer/Processor saved in ``folder``."""
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(
        str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|"
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, return_attention_mask=True
    )
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    config = Wav2Vec2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        pad_token_id=0,
        ctc_loss_reduction="mean",
    )
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


def tiny_text_classifier(folder: str | Path, texts: list[str], kind: str = "xlmr", vocab_size: int = 300) -> Path:
    """A tiny random XLM-R (or BERT) + a BPE/WordPiece tokenizer trained on ``texts``, saved in ``folder``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
        cls, sep, pad, unk, mask = "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"
    else:
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials)
        cls, sep, pad, unk, mask = "<s>", "</s>", "<pad>", "<unk>", "<mask>"
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, cls_token=cls, sep_token=sep, pad_token=pad, unk_token=unk, mask_token=mask
    )
    if kind != "bert":
        fast.bos_token, fast.eos_token = cls, sep
    fast.save_pretrained(folder)
    size = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    if kind == "bert":
        from transformers import BertConfig, BertForSequenceClassification

        config = BertConfig(vocab_size=tok.get_vocab_size(), max_position_embeddings=128, pad_token_id=0, **size)
        BertForSequenceClassification(config).save_pretrained(folder)
    else:
        from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

        config = XLMRobertaConfig(
            vocab_size=tok.get_vocab_size(),
            max_position_embeddings=130,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            **size,
        )
        XLMRobertaForSequenceClassification(config).save_pretrained(folder)
    return folder


ZEROSHOT_TOKENS = "<s> <pad> </s> <unk> | a i e n o u t k m s r l h g d y b p c w j ' v z f q x".split()


SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def write_processor_files(folder: Path, **tokenizer_extra) -> None:
    """The processor files as the hub repositories have them (written by an older transformers,
    by hand here: transformers 5 no longer writes special_tokens_map.json)."""
    (folder / "special_tokens_map.json").write_text(json.dumps(SPECIALS))
    tokenizer = {
        **SPECIALS,
        "do_lower_case": False,
        "word_delimiter_token": "|",
        "replace_word_delimiter_char": " ",
        "tokenizer_class": "Wav2Vec2CTCTokenizer",
        "processor_class": "Wav2Vec2Processor",
        **tokenizer_extra,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer))
    extractor = {
        "do_normalize": True,
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "padding_side": "right",
        "padding_value": 0,
        "processor_class": "Wav2Vec2Processor",
        "return_attention_mask": True,
        "sampling_rate": 16000,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(extractor))


def transcribe_per_file(model, waves: list, languages: list, sample_len: int, fp16: bool = False) -> list[str]:
    """The reference the batched Whisper recognizer must equal: ``whisper.transcribe`` once per clip, with
    the batched decoder's options (greedy, no conditioning on previous text, no timestamps, same
    ``sample_len``); a language None is detected."""
    import whisper

    from cascade.languages import whisper_language

    return [
        whisper.transcribe(
            model,
            wave,
            temperature=0.0,
            condition_on_previous_text=False,
            language=whisper_language(lang) if lang else None,
            without_timestamps=True,
            fp16=fp16,
            sample_len=sample_len,
            no_speech_threshold=None,
            verbose=None,
        )["text"].strip()
        for wave, lang in zip(waves, languages, strict=True)
    ]
