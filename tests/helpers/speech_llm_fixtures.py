"""A tiny random Qwen2-Audio saved as a local folder, standing in for ``Qwen/Qwen2-Audio-7B-Instruct``.

Built from the real classes (``Qwen2AudioConfig``, ``Qwen2AudioForConditionalGeneration``,
``Qwen2AudioProcessor`` with ``WhisperFeatureExtractor`` and the processor's own default chat
template, the Instruct model's) with small sizes. The real ``config.json``: audio encoder 32 layers,
1280 wide, 20 heads, 128 mel bins, 1500 positions (30 s); a Qwen2-7B language model (4096 wide,
32 layers, 32 heads, vocabulary 156032), ``audio_token_index`` 151646. Here: audio 1 layer, 32
wide, 16 mel bins, a 1 s window (100 frames -> 25 audio tokens); text 64 wide, 2 layers; a
byte-level BPE (Qwen2's tokenizer kind) trained on the texts it will see, with Qwen2-Audio's
special tokens.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]
WINDOW_SECONDS = 1  # the real one is 30


def save_tiny_qwen2_audio(folder: Path, texts: list[str]) -> Path:
    """Write a tiny Qwen2-Audio (config, random weights, processor) to ``folder``; returns it."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    bpe = ByteLevelBPETokenizer()
    chat = "system You are a helpful assistant. user assistant Audio 1:"
    bpe.train_from_iterator([*texts, chat], vocab_size=600, special_tokens=SPECIAL)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    extractor = WhisperFeatureExtractor(feature_size=16, chunk_length=WINDOW_SECONDS)
    frames = extractor.nb_max_frames  # 100 a second
    audio = {"d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64,
             "num_mel_bins": 16, "max_source_positions": frames // 2}  # fmt: skip
    text = {
        "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 512,
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
    }  # fmt: skip
    config = Qwen2AudioConfig(audio_config=audio, text_config=text, audio_token_index=ids["<|AUDIO|>"])
    config.pad_token_id = ids["<|endoftext|>"]
    torch.manual_seed(0)
    model = Qwen2AudioForConditionalGeneration(config)
    # at the usual 0.02 init a 64-wide (untied, as the real one) head spans about +-1 logit: no answer
    # could become likely whatever LoRA learns; a trained model's logits span tens
    torch.nn.init.normal_(model.get_input_embeddings().weight, std=0.2)
    torch.nn.init.normal_(model.get_output_embeddings().weight, std=0.2)
    model.save_pretrained(folder)
    Qwen2AudioProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
