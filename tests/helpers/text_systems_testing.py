"""Tiny stand-ins for the text systems of issue 30 (translate-test, LLM classifier), built locally from the
real config classes with random weights (never downloaded).

Used by tests/test_translate_test.py, tests/test_llm_classifier.py and tests/test_systems_sweep.py.
"""

from __future__ import annotations

from pathlib import Path

import torch


def char_vocab(texts: list[str], specials: list[str]) -> dict[str, int]:
    """Specials, then every character of ``texts`` alone and word-initial (``▁x``)."""
    vocab = {token: i for i, token in enumerate(specials)}
    for char in sorted(set("".join(texts)) - {" "}):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(f"▁{char}", len(vocab))
    return vocab


def tiny_nllb(folder: str | Path, texts: list[str], seed: int = 0) -> Path:
    """A random NLLB-200-shaped translator: ``M2M100ForConditionalGeneration`` (NLLB's class) of tiny
    dimensions + an ``NllbTokenizer`` over the characters of ``texts`` (with the real one's 202 FLORES
    language tokens), saved in ``folder``."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    folder = Path(folder)
    tokenizer = NllbTokenizer(vocab=char_vocab(texts, ["<s>", "<pad>", "</s>", "<unk>", "▁"]), merges=[])
    tokenizer.save_pretrained(folder)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,  # as NLLB: </s>, then the forced target-language token
        scale_embedding=True,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    # random weights mostly pick one of the 202 language tokens (skipped when decoding: empty
    # translations); suppressed, as a trained model would not write them, the stand-in writes characters
    vocab = tokenizer.get_vocab()
    languages = [i for token, i in vocab.items() if len(token) == 8 and token[3] == "_" and token != "eng_Latn"]
    model.generation_config.suppress_tokens = sorted(languages) + [tokenizer.unk_token_id]
    model.save_pretrained(folder)
    return folder


def tiny_translator_args(nllb: Path) -> list[str]:
    """``data.translator`` on the tiny NLLB stand-in, on CPU in float32, with short translations."""
    return [
        f"--data.translator.init_args.model={nllb}",
        "--data.translator.init_args.max_new_tokens=6",
        "--data.translator.init_args.dtype=float32",
        "--data.translator.init_args.device=cpu",
    ]


def tiny_cascade_args(corpus, root: Path, folder: Path) -> list[str]:
    """cascade.fit over configs/cascade/speechtaxi.yaml on the tiny corpus: a tiny CTC recognizer (random
    characters), its classifier's model a tiny XLM-R, 2 training steps on CPU, caches under ``folder``."""
    from tests.helpers.cascade_testing import tiny_text_classifier, tiny_wav2vec2_ctc

    texts = [i.text for i in corpus.items] + ["ф е ж"]  # + characters the tiny translator writes
    return [
        "--data.source=speech.sources.Embedded",
        f"--data.source.root={root}",
        "--data.source.tiny=true",
        "--data.source.languages=[" + ", ".join(corpus.languages) + "]",
        "--data.protocol.eval_splits=[test]",
        f"--data.recognizer.init_args.model={tiny_wav2vec2_ctc(folder / 'w2v')}",
        "--data.recognizer.init_args.device=cpu",
        f"--model.model.init_args.model={tiny_text_classifier(folder / 'xlmr', texts, vocab_size=200)}",
        f"--data.cache_dir={folder / 'cache'}",
        "--trainer.accelerator=cpu",
        "--trainer.precision=32",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
    ]


# Qwen2.5-Instruct's chat template, shortened to what a one-turn prompt uses
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_causal_lm(folder: str | Path, texts: list[str], family: str = "qwen2", seed: int = 0) -> Path:
    """A random tiny Qwen2ForCausalLM (or LlamaForCausalLM) + a byte-level BPE tokenizer trained on ``texts``
    with Qwen's special tokens and chat template (Llama: no template, the bare prompt), saved in ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder = Path(folder)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    eos = "<|im_end|>" if family == "qwen2" else "<|endoftext|>"
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token="<|endoftext|>")
    if family == "qwen2":
        fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    size = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    config_class, model_class = (
        (Qwen2Config, Qwen2ForCausalLM) if family == "qwen2" else (LlamaConfig, LlamaForCausalLM)
    )
    config = config_class(
        vocab_size=len(fast),
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        **size,
    )
    torch.manual_seed(seed)
    model_class(config).save_pretrained(folder)
    return folder
