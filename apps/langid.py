"""Language detection for the demo's "auto" language (the cascade's recognizer/romanizer may need one).

What is used, in order:

1. the recognizer is Whisper: Whisper's own ``detect_language`` on the clip, restricted to
   the candidate languages (those the runs were evaluated on);
2. otherwise, once there is a transcript in native script: the Unicode script of its letters
   (Cyrillic -> rus, Greek -> ell, Devanagari -> hin, Georgian -> kat, Thai -> tha, ...),
   and for Latin script a few letters that only some languages use (ß/ä/ö/ü -> deu,
   ñ/¿/¡/accents -> spa, else eng), always restricted to the candidates;
3. a recognizer that writes romanized text and ignores the language needs none at all.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np

from cascade.languages import whisper_language

# ISO 639-3 -> Unicode script (first word of the character names), for the languages the
# workbench ships and a few common others
SCRIPTS = {
    "eng": "LATIN", "deu": "LATIN", "spa": "LATIN", "fra": "LATIN", "ita": "LATIN", "por": "LATIN",
    "nld": "LATIN", "pol": "LATIN", "tur": "LATIN", "vie": "LATIN", "ind": "LATIN", "swh": "LATIN",
    "rus": "CYRILLIC", "ukr": "CYRILLIC", "bul": "CYRILLIC", "srp": "CYRILLIC",
    "ell": "GREEK", "hin": "DEVANAGARI", "mar": "DEVANAGARI", "nep": "DEVANAGARI", "kat": "GEORGIAN",
    "tha": "THAI", "arb": "ARABIC", "ara": "ARABIC", "fas": "ARABIC", "urd": "ARABIC", "heb": "HEBREW",
    "amh": "ETHIOPIC", "ben": "BENGALI", "tam": "TAMIL", "tel": "TELUGU", "kor": "HANGUL", "jpn": "CJK",
    "zho": "CJK", "cmn": "CJK", "hye": "ARMENIAN", "khm": "KHMER", "lao": "LAO", "mya": "MYANMAR",
}  # fmt: skip
# Latin-script hints: letters typical of one language's orthography
LATIN_HINTS = {"deu": set("ßäöüÄÖÜ"), "spa": set("ñÑ¿¡áéíóúÁÉÍÓÚ")}
DEFAULT_LATIN = "eng"


def dominant_script(text: str) -> str | None:
    """The Unicode script most letters of ``text`` are written in (``LATIN``, ``CYRILLIC``...)."""
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            if name:
                counts["CJK" if name.startswith(("CJK", "HIRAGANA", "KATAKANA")) else name.split()[0]] += 1
    return counts.most_common(1)[0][0] if counts else None


def language_from_script(text: str, candidates: list[str]) -> tuple[str | None, str]:
    """(language, how) from the script of a native-script transcript, among ``candidates``."""
    script = dominant_script(text)
    if script is None:
        return None, "no letters in the transcript to detect the language from"
    matching = [lang for lang in candidates if SCRIPTS.get(lang) == script] or [
        lang for lang, s in SCRIPTS.items() if s == script
    ]
    if not matching:
        return None, f"script {script.title()}: no known language"
    if script == "LATIN" and len(matching) > 1:
        letters = set(text)
        for lang in matching:
            if LATIN_HINTS.get(lang, set()) & letters:
                return lang, f"detected from the transcript's script ({script.title()}, letters typical of {lang})"
        default = DEFAULT_LATIN if DEFAULT_LATIN in matching else matching[0]
        return default, f"detected from the transcript's script ({script.title()}; {default} by default)"
    return matching[0], f"detected from the transcript's script ({script.title()})"


def whisper_detect(model, wave: np.ndarray, candidates: list[str]) -> tuple[str | None, str]:
    """Whisper's ``detect_language`` on the clip's first 30 s, restricted to ``candidates``."""
    import torch
    import whisper

    audio = whisper.pad_or_trim(torch.from_numpy(np.asarray(wave, dtype=np.float32)))
    mel = whisper.log_mel_spectrogram(audio, n_mels=model.dims.n_mels).to(model.device)
    with torch.no_grad():
        _, probs = model.detect_language(mel)
    by_code = {}
    for lang in candidates:
        try:
            by_code[lang] = whisper_language(lang)
        except Exception:  # noqa: BLE001 - a candidate Whisper does not know is simply skipped
            continue
    if by_code:
        best = max(by_code, key=lambda lang: probs.get(by_code[lang], 0.0))
        return best, f"detected by Whisper's detect_language (p={probs.get(by_code[best], 0.0):.2f})"
    code = max(probs, key=probs.get)
    return code, f"detected by Whisper's detect_language (p={probs[code]:.2f})"


def detect_for_cascade(recognizer, wave: np.ndarray, transcript: str | None, candidates: list[str]):
    """(language, note) for a cascade whose recognizer/romanizer needs a language.

    Called before transcription (``transcript`` None: only Whisper can detect from audio; other
    recognizers that need a language get the first candidate) or after it (by script).
    """
    from cascade.recognizers.whisper_asr import WhisperRecognizer

    if isinstance(recognizer, WhisperRecognizer):
        return whisper_detect(recognizer.model, wave, candidates)
    if transcript is None:
        fallback = candidates[0] if candidates else None
        return fallback, f"this recognizer cannot detect the language from audio: using {fallback}"
    language, note = language_from_script(transcript, candidates)
    return language, note
