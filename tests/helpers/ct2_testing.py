"""A tiny random Whisper in all three forms, with the same weights: openai-whisper's checkpoint,
transformers' ``WhisperForConditionalGeneration`` folder and its CTranslate2 conversion (faster-whisper).

Nothing is downloaded: the weights are random (:func:`tests.helpers.speech_stand_ins.random_whisper_checkpoint`),
the tokenizer is built from openai-whisper's bundled ``multilingual.tiktoken`` with the same
special-token ids. Used by tests/test_faster_whisper.py and benchmarks/faster_whisper.py.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

# openai-whisper -> transformers parameter names (inner parts first: cross_attn before attn)
_RENAMES = [
    ("encoder.blocks.", "model.encoder.layers."),
    ("decoder.blocks.", "model.decoder.layers."),
    (".cross_attn_ln.", ".encoder_attn_layer_norm."),
    (".cross_attn.query.", ".encoder_attn.q_proj."),
    (".cross_attn.key.", ".encoder_attn.k_proj."),
    (".cross_attn.value.", ".encoder_attn.v_proj."),
    (".cross_attn.out.", ".encoder_attn.out_proj."),
    (".attn_ln.", ".self_attn_layer_norm."),
    (".attn.query.", ".self_attn.q_proj."),
    (".attn.key.", ".self_attn.k_proj."),
    (".attn.value.", ".self_attn.v_proj."),
    (".attn.out.", ".self_attn.out_proj."),
    (".mlp.0.", ".fc1."),
    (".mlp.2.", ".fc2."),
    (".mlp_ln.", ".final_layer_norm."),
]
_WHOLE = {
    "encoder.positional_embedding": "model.encoder.embed_positions.weight",
    "decoder.positional_embedding": "model.decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "model.decoder.embed_tokens.weight",
}
_PREFIXES = [
    ("encoder.conv", "model.encoder.conv"),
    ("encoder.ln_post.", "model.encoder.layer_norm."),
    ("decoder.ln.", "model.decoder.layer_norm."),
]


def hf_name(name: str) -> str:
    """The transformers name of an openai-whisper parameter."""
    if name in _WHOLE:
        return _WHOLE[name]
    for old, new in _PREFIXES:
        if name.startswith(old):
            return new + name[len(old) :]
    for old, new in _RENAMES:
        name = name.replace(old, new)
    return name


@cache
def _whisper_tokenizer(num_languages: int):
    # built once per process: extracting 50k BPE merges from the tiktoken ranks takes seconds
    import whisper
    from transformers import WhisperTokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter
    from whisper.tokenizer import get_encoding

    ranks = str(Path(whisper.__file__).parent / "assets" / "multilingual.tiktoken")
    vocab, merges = TikTokenConverter(vocab_file=ranks).extract_vocab_merges_from_model(ranks)
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges)
    encoding = get_encoding("multilingual", num_languages=num_languages)
    specials = sorted(encoding._special_tokens.items(), key=lambda kv: kv[1])
    tokenizer.add_special_tokens({"additional_special_tokens": [name for name, _ in specials[1:]]})
    for name, index in specials:
        if tokenizer.convert_tokens_to_ids(name) != index:
            raise AssertionError(
                f"tokenizer: {name} got id {tokenizer.convert_tokens_to_ids(name)}, whisper's is {index}"
            )
    return tokenizer


def whisper_tokenizer(folder: Path, num_languages: int):
    """transformers' WhisperTokenizer built from openai-whisper's multilingual.tiktoken, special ids as whisper's
    (which depend on the model's number of languages: 99, or 100 for large-v3), saved in ``folder``."""
    tokenizer = _whisper_tokenizer(num_languages)
    tokenizer.save_pretrained(folder)
    return tokenizer


def hf_whisper(openai_checkpoint: str | Path, folder: str | Path) -> Path:
    """The openai-whisper checkpoint as a transformers folder (model, generation config, tokenizer, features)."""
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration
    from whisper.tokenizer import get_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saved = torch.load(openai_checkpoint, map_location="cpu", weights_only=True)
    dims, state = saved["dims"], saved["model_state_dict"]
    if dims["n_audio_state"] != dims["n_text_state"]:
        raise ValueError("transformers' Whisper needs one width for encoder and decoder")
    num_languages = dims["n_vocab"] - 51765 - int(dims["n_vocab"] >= 51865)
    openai_tokenizer = get_tokenizer(True, num_languages=num_languages)
    eot, sot = openai_tokenizer.eot, openai_tokenizer.sot
    config = WhisperConfig(
        vocab_size=dims["n_vocab"],
        num_mel_bins=dims["n_mels"],
        d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"],
        encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"],
        decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"],
        decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"],
        max_target_positions=dims["n_text_ctx"],
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
    )
    model = WhisperForConditionalGeneration(config)
    renamed = {hf_name(k): v for k, v in state.items()}
    renamed["proj_out.weight"] = renamed["model.decoder.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    if missing or unexpected:
        raise AssertionError(f"openai -> transformers: missing {missing}, unexpected {unexpected}")
    codes = openai_tokenizer.all_language_codes
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot,
        eos_token_id=eot,
        pad_token_id=eot,
        suppress_tokens=sorted(openai_tokenizer.non_speech_tokens),
        begin_suppress_tokens=[openai_tokenizer.encode(" ")[0], eot],
        lang_to_id={f"<|{c}|>": t for c, t in zip(codes, openai_tokenizer.all_language_tokens, strict=True)},
        is_multilingual=True,
        no_timestamps_token_id=openai_tokenizer.no_timestamps,
    )
    model.save_pretrained(folder)
    whisper_tokenizer(folder, num_languages)
    WhisperFeatureExtractor(feature_size=dims["n_mels"]).save_pretrained(folder)
    return folder


def ct2_whisper(openai_checkpoint: str | Path, folder: str | Path, quantization: str = "float32") -> Path:
    """The openai-whisper checkpoint converted for faster-whisper (CTranslate2), as ``ct2-transformers-converter``."""
    from ctranslate2.converters import TransformersConverter

    folder = Path(folder)
    hf = hf_whisper(openai_checkpoint, folder.with_name(folder.name + "-hf"))
    converter = TransformersConverter(str(hf), copy_files=["tokenizer.json", "preprocessor_config.json"])
    converter.convert(str(folder), quantization=quantization, force=True)
    return folder


def openai_clip_window(model, wave, frames: int, language: str | None, sample_len: int) -> str:
    """openai-whisper's greedy transcript of ``wave`` on a ``frames``-long window (its log-mel
    zero-padded to ``frames``, not 3000): the reference for ``FasterWhisperRecognizer(window="clip")``.

    openai-whisper's encoder only takes 30 s (its positional embedding is 1500 long); for the
    window, the encoder gets the first ``frames // 2`` positions, as CTranslate2 adds them.
    """
    import whisper

    encoder, full = model.encoder, model.encoder.positional_embedding
    mel = whisper.log_mel_spectrogram(wave, model.dims.n_mels)
    window = whisper.pad_or_trim(mel[:, : min(frames, len(wave) // 160)], frames)
    options = whisper.DecodingOptions(
        language=language, without_timestamps=True, fp16=False, sample_len=sample_len, temperature=0.0
    )
    try:
        encoder.positional_embedding = full[: (frames + 1) // 2]  # conv2 has stride 2
        return whisper.decode(model, window, options).text.strip()
    finally:
        encoder.positional_embedding = full
