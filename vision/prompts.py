"""Per-language tokenization of prompts and captions for text towers that mark the language.

NLLB's tokenizer (the text tower of open_clip's ``nllb-clip-base``/``-large``) starts every
text with a FLORES-200 language token (``rus_Cyrl``); left alone it marks every text with
its default, ``eng_Latn``, so Russian prompts would be encoded as English: silently wrong.
:func:`tokenize` sets each text's language (from the workbench's language table) before
tokenizing it. Tokenizers without language tokens (open_clip's BPE, XLM-R, bytes) are
called as they are.

The language is set through the tokenizer's ``src_lang``: open_clip's own
``HFTokenizer.set_language`` calls ``set_src_lang_special_tokens``, which NLLB's tokenizer
undoes at the next call (each call switches back to ``src_lang``), so it has no effect.

Romanized prompts keep their language's native FLORES token: NLLB has no romanized
variant of most languages, and the token says which language the words are.
"""

from __future__ import annotations

import torch

from workbench.errors import ConfigError
from workbench.languages import resolve


def language_tokenizer(tokenizer):
    """The Hugging Face tokenizer inside ``tokenizer`` when it takes a source language (NLLB), else None."""
    inner = getattr(tokenizer, "tokenizer", None)
    if callable(getattr(inner, "set_src_lang_special_tokens", None)) and hasattr(inner, "src_lang"):
        return inner
    return None


def flores_token(inner, language: str) -> str:
    """The FLORES-200 language token for ``language`` in the tokenizer ``inner``.

    Raises:
        ConfigError: the tokenizer has no token for the language.
    """
    lang = resolve(language)
    code = lang.flores
    if code is None or inner.convert_tokens_to_ids(code) in (None, inner.unk_token_id):
        raise ConfigError(
            f"language '{language}' ({lang.name}): the text tower's tokenizer has no language token "
            f"'{code}' (NLLB knows the FLORES-200 languages)"
        )
    return code


def tokenize(tokenizer, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
    """Token ids ``[len(texts), context_length]``, each text marked with its language where the tokenizer can.

    Args:
        tokenizer: open_clip's tokenizer of the model (``HFTokenizer`` for NLLB) or any callable
            ``list[str] -> LongTensor``.
        texts: the texts.
        languages: each text's language code (any form :func:`workbench.languages.resolve` reads);
            None tokenizes without languages.
    """
    inner = language_tokenizer(tokenizer)
    if inner is None or languages is None:
        return tokenizer(texts)
    if len(languages) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(languages)} languages")
    out: torch.Tensor | None = None
    for language in dict.fromkeys(languages):
        rows = [i for i, lang in enumerate(languages) if lang == language]
        inner.src_lang = flores_token(inner, language)
        tokens = tokenizer([texts[i] for i in rows])
        if out is None:
            out = tokens.new_zeros((len(texts), tokens.shape[1]))
        out[rows] = tokens
    return out
