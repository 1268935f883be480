"""The translate stage of a translate-test cascade: text in the item's language -> English, cached.

Translate-test (recognize -> translate -> classify in English) is the standard transfer
baseline of Fleurs-SLU and mSTEB: one English classifier serves every language, and the
machine translation model carries the languages. The translation model is any
``transformers`` sequence-to-sequence model with language tokens: NLLB-200
(``facebook/nllb-200-distilled-600M``: FLORES-200 tokens such as ``rus_Cyrl``) or M2M100
(``facebook/m2m100_418M``: ``__ru__`` tokens). Each text's source language is its item's,
read through the workbench's one language table (:mod:`workbench.languages`); texts already
in the target language are kept as they are.

Translations are cached like transcripts (:mod:`cascade.recognize`): a
:class:`~cascade.cache.ShardedCache` folder named by the hash of :meth:`Translator.describe`
(model identity, weights' hash for a local folder, decoding options), an entry keyed by
``(source language, text)``. A rerun, another classifier or another protocol translates
nothing twice; a changed model or option translates again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import torch

from cascade.cache import ShardedCache, config_digest, file_digest
from cascade.recognizers.base import pick_device
from cascade.recognizers.hf_ctc import WEIGHT_FILES
from workbench.distributed import compute_once
from workbench.errors import ConfigError
from workbench.languages import resolve
from workbench.rng import preserved_rng

log = logging.getLogger(__name__)


class Translator:
    """A ``transformers`` sequence-to-sequence translation model (NLLB-200, M2M100), batched by language.

    Args:
        model: hub id (``facebook/nllb-200-distilled-600M``, ``facebook/m2m100_418M``) or local folder.
        target: the language translated into (any code form: ``eng``, ``en``, ``eng_Latn``).
        batch_size: texts per generate call (one source language per batch).
        max_new_tokens: longest translation, in tokens.
        num_beams: beam width (1: greedy).
        dtype: weights' dtype (``bfloat16`` on GPUs).
        revision: hub revision.
        device: ``auto``, ``cpu``, ``cuda``...
    """

    def __init__(
        self,
        model: str = "facebook/nllb-200-distilled-600M",
        target: str = "eng",
        batch_size: int = 16,
        max_new_tokens: int = 128,
        num_beams: int = 1,
        dtype: str = "float32",
        revision: str | None = None,
        device: str | None = "auto",
    ):
        self.name, self.target, self.revision, self.device = model, resolve(target).code, revision, device
        self.batch_size, self.max_new_tokens, self.num_beams, self.dtype = batch_size, max_new_tokens, num_beams, dtype
        self._model = self._tokenizer = None

    def describe(self) -> dict:
        """Everything the translations depend on: the cache folder is named by its hash."""
        identity: dict = {"name": self.name, "revision": self.revision}
        folder = Path(self.name)
        if folder.is_dir():
            identity = {"weights_sha256": [file_digest(folder / f) for f in WEIGHT_FILES if (folder / f).is_file()]}
        options = {"target": self.target, "max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        return {"translator": "hf-seq2seq", **identity, **options, "dtype": self.dtype}

    def load(self):
        if self._model is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.name, revision=self.revision)
                self._model = AutoModelForSeq2SeqLM.from_pretrained(
                    self.name, revision=self.revision, dtype=getattr(torch, self.dtype)
                )
            except (OSError, ValueError) as err:  # not found offline, not a seq2seq model
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise ConfigError(f"data.translator.model: cannot load '{self.name}': {first}") from None
            self._model.to(pick_device(self.device)).eval()
        return self._model, self._tokenizer

    def language_code(self, language: str) -> tuple[str, str]:
        """``(the tokenizer's src_lang value, its language token)`` for ``language``: NLLB's FLORES-200
        token (``rus_Cyrl``) or M2M100's ``__ru__``, whichever the tokenizer has.

        Raises:
            ConfigError: the model has no token for the language.
        """
        _, tokenizer = self.load()
        lang = resolve(language)
        candidates = [(lang.flores, lang.flores), (lang.iso1, f"__{lang.iso1}__")]
        for code, token in candidates:
            if code and tokenizer.convert_tokens_to_ids(token) not in (None, tokenizer.unk_token_id):
                return code, token
        tried = [token for code, token in candidates if code]
        raise ConfigError(f"language '{language}' ({lang.name}): the translator '{self.name}' has no token {tried}")

    @torch.no_grad()
    def translate(self, texts: list[str], language: str) -> list[str]:
        """``texts`` of one source ``language`` -> the target language, in order."""
        if resolve(language).code == self.target:
            return list(texts)
        model, tokenizer = self.load()
        tokenizer.src_lang = self.language_code(language)[0]
        forced = tokenizer.convert_tokens_to_ids(self.language_code(self.target)[1])
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer(texts[start : start + self.batch_size], padding=True, return_tensors="pt")
            generated = model.generate(
                **batch.to(model.device),
                forced_bos_token_id=forced,
                max_new_tokens=self.max_new_tokens,
                num_beams=self.num_beams,
                do_sample=False,
            )
            out += [text.strip() for text in tokenizer.batch_decode(generated, skip_special_tokens=True)]
        return out


class TranslateStage:
    """Translate many ``(text, language)`` pairs, each distinct pair once, ever.

    Args:
        translator: the model.
        cache_dir: the cascade's cache root (translations go to ``<cache_dir>/translated/<config hash>``).
    """

    def __init__(self, translator: Translator, cache_dir: str | Path):
        self.translator = translator
        described = translator.describe()
        self.cache = ShardedCache(Path(cache_dir) / "translated" / config_digest(described), meta=described)

    @staticmethod
    def key(text: str, language: str) -> str:
        return hashlib.sha256(f"{language}\x00{text}".encode()).hexdigest()

    def __call__(self, texts: list[str], languages: list[str]) -> list[str]:
        """The translations of ``texts`` (one language code per text, any form: ``rus``, ``ru-RU``), in order."""
        languages = [resolve(lang).code for lang in languages]  # one cache entry per language, however written
        keys = [self.key(t, lang) for t, lang in zip(texts, languages, strict=True)]
        known = {key: self.cache.get(key) for key in set(keys)}
        todo = {key: (text, lang) for key, text, lang in zip(keys, texts, languages, strict=True) if known[key] is None}
        # under DDP each missing text is translated by one rank only, and every rank gets it
        with preserved_rng():  # a cold cache must not change what the seeded run does next
            known.update(compute_once(todo, self._translate))
        return [known[key] for key in keys]

    def _translate(self, todo: dict[str, tuple[str, str]]) -> dict[str, str]:
        started = time.perf_counter()
        by_language: dict[str, list[tuple[str, str]]] = {}
        for key, (text, lang) in todo.items():
            by_language.setdefault(lang, []).append((key, text))
        done: dict[str, str] = {}
        for lang, pairs in sorted(by_language.items()):
            # one shard per language: a crash loses at most the language being translated
            translated = self.translator.translate([t for _, t in pairs], lang)
            fresh = dict(zip([k for k, _ in pairs], translated, strict=True))
            self.cache.put_many(fresh)
            done.update(fresh)
        log.info("translated %d texts in %.1f s", len(todo), time.perf_counter() - started)
        return done
