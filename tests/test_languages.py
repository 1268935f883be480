"""The one language table: every code form the corpora use, and each tool's code for it."""

from __future__ import annotations

import pytest
from whisper.tokenizer import LANGUAGES as WHISPER

from workbench.errors import ConfigError
from workbench.languages import mms_code, resolve, uroman_code, whisper_code
from workbench.romanize import Romanizer

SPEECHTAXI = (
    "asm bgc bht ckb eng ewe fra guj ibo kan lin luo mal mar nag nde nlx pan peg rus tam tel "
    "tw-akuapem tw-asante ukr urd vie yor"
).split()
# the 12 SpeechTaxi languages Whisper lacks (its list has no Haryanvi, Sorani, Ewe, Igbo, Twi...)
NOT_IN_WHISPER = {"bgc", "bht", "ckb", "ewe", "ibo", "luo", "nag", "nde", "nlx", "peg", "tw-akuapem", "tw-asante"}
EMBEDDED = {
    "eng": "eng_Latn",
    "deu": "deu_Latn",
    "spa": "spa_Latn",
    "rus": "rus_Cyrl",
    "ell": "ell_Grek",
    "hin": "hin_Deva",
    "kat": "kat_Geor",
    "tha": "tha_Thai",
}
# SIB-Fleurs' 102 configs (FLORES-200 codes, from FLEURS_TO_FLORES of the dataset's builder)
SIB_FLEURS = (
    "afr_Latn amh_Ethi arb_Arab asm_Beng ast_Latn azj_Latn bel_Cyrl bul_Cyrl ben_Beng bos_Latn cat_Latn "
    "ceb_Latn ckb_Arab zho_Hans ces_Latn cym_Latn dan_Latn deu_Latn ell_Grek eng_Latn spa_Latn est_Latn "
    "pes_Arab fin_Latn tgl_Latn fra_Latn gle_Latn glg_Latn guj_Gujr hau_Latn heb_Hebr hin_Deva hrv_Latn "
    "hun_Latn hye_Armn ind_Latn ibo_Latn isl_Latn ita_Latn jpn_Jpan jav_Latn kat_Geor kam_Latn kea_Latn "
    "kaz_Cyrl khm_Khmr kan_Knda kor_Hang kir_Cyrl ltz_Latn lug_Latn lin_Latn lao_Laoo lit_Latn luo_Latn "
    "lvs_Latn mri_Latn mkd_Cyrl mal_Mlym khk_Cyrl mar_Deva zsm_Latn mlt_Latn mya_Mymr nob_Latn npi_Deva "
    "nld_Latn nso_Latn nya_Latn oci_Latn ory_Orya pan_Guru pol_Latn pbt_Arab por_Latn ron_Latn rus_Cyrl "
    "snd_Arab slk_Latn slv_Latn sna_Latn som_Latn srp_Cyrl swe_Latn swh_Latn tam_Taml tel_Telu tgk_Cyrl "
    "tha_Thai tur_Latn ukr_Cyrl umb_Latn urd_Arab uzn_Latn vie_Latn wol_Latn xho_Latn yor_Latn zho_Hant "
    "zul_Latn fuv_Latn gaz_Latn"
).split()
SPEECH_MASSIVE = "ar-SA de-DE es-ES fr-FR hu-HU ko-KR nl-NL pl-PL pt-PT ru-RU tr-TR vi-VN".split()
MINDS14 = "cs-CZ de-DE en-AU en-GB en-US es-ES fr-FR it-IT ko-KR nl-NL pl-PL pt-PT ru-RU zh-CN".split()


def test_speechtaxi_languages_and_whisper_coverage():
    for code in SPEECHTAXI:
        lang = resolve(code)
        assert lang.code == code and lang.script and lang.flores.endswith(lang.script)
        assert (whisper_code(code, WHISPER) is None) == (code in NOT_IN_WHISPER), code
    assert resolve("tw-akuapem").iso3 == resolve("tw-asante").iso3 == "twi"
    assert resolve("tw-akuapem").flores == "twi_Latn" and resolve("TW_Asante").code == "tw-asante"
    assert {c: resolve(c).flores for c in ("urd", "pan", "peg", "bgc", "ckb")} == {
        "urd": "urd_Arab",
        "pan": "pan_Guru",
        "peg": "peg_Orya",
        "bgc": "bgc_Deva",
        "ckb": "ckb_Arab",
    }
    assert whisper_code("urd", WHISPER) == "ur" and whisper_code("yor", WHISPER) == "yo"


def test_embedded_languages_everywhere():
    for code, flores in EMBEDDED.items():
        assert resolve(code).flores == flores
        assert uroman_code(code) == code
        assert whisper_code(code, WHISPER) == resolve(code).iso1


@pytest.mark.parametrize("flores", SIB_FLEURS)
def test_sib_fleurs_flores_codes_round_trip(flores):
    lang = resolve(flores)
    assert lang.flores == flores and lang.code == flores[:3]


def test_sib_fleurs_has_102_distinct_configs():
    assert len(set(SIB_FLEURS)) == 102


@pytest.mark.parametrize("locale", sorted(set(SPEECH_MASSIVE + MINDS14)))
def test_bcp47_locales(locale):
    lang = resolve(locale)
    assert lang.iso1 == locale[:2].lower() and len(lang.code) == 3
    assert lang.flores is not None and whisper_code(locale, WHISPER) == lang.iso1


def test_bcp47_forms_and_flores_members():
    assert resolve("zh-CN").flores == "zho_Hans" and resolve("zh-TW").flores == "zho_Hant"
    assert resolve("sr-Latn-RS").flores == "srp_Latn" and resolve("sr").flores == "srp_Cyrl"
    assert resolve("ar-SA").flores == "arb_Arab" and resolve("fa").flores == "pes_Arab"
    assert resolve("ko-KR").flores == "kor_Hang"
    assert resolve("pt_BR").code == "por" and resolve("iw").code == "heb"  # withdrawn 2-letter code
    assert resolve("ger").code == "deu" and resolve("chi").code == "zho"  # ISO 639-2/B codes
    assert resolve("tw").code == "twi" and resolve("ak").code == "aka"  # CLDR folds Twi into Akan; ISO does not
    # members of a macrolanguage reach Whisper and uroman through it
    assert whisper_code("arb_Arab", WHISPER) == "ar" and uroman_code("arb_Arab") == "ara"
    assert whisper_code("cmn", WHISPER) == "zh" and whisper_code("jav", WHISPER) == "jw"
    assert whisper_code("nob", WHISPER) == "no"


@pytest.mark.parametrize("bad", ["xx", "qqq", "russian", "12", "xyz", "und", ""])
def test_unknown_codes_are_errors_naming_them(bad):
    with pytest.raises(ConfigError, match=f"'{bad}'"):
        resolve(bad)


def test_romanizer_reads_every_form():
    romanizer = Romanizer()
    assert [romanizer.language_code(c) for c in ("rus_Cyrl", "ru-RU", "tw-asante", "bht", "luo")] == [
        "rus",
        "rus",
        "twi",
        None,  # a known language uroman has no rules for: romanized without a code
        None,
    ]
    assert romanizer.romanize("январь", "rus_Cyrl") == romanizer.romanize("январь", "rus") == "yanvar"


MMS_KEYS = {"eng", "rus", "urd-script_arabic", "urd-script_latin", "hin", "ara", "twi", "srp-script_latin"}


def test_mms_adapter_codes_from_the_model_keys():
    assert mms_code("eng", MMS_KEYS) == "eng" and mms_code("en-US", MMS_KEYS) == "eng"
    assert mms_code("urd", MMS_KEYS) == "urd-script_arabic"  # Urdu's script is Arabic
    assert mms_code("urd_Latn", MMS_KEYS) == "urd-script_latin"
    assert mms_code("srp", MMS_KEYS) == "srp-script_latin"  # the one adapter Serbian has
    assert mms_code("arb_Arab", MMS_KEYS) == "ara"  # FLORES member -> the model's macrolanguage
    assert mms_code("tw-akuapem", MMS_KEYS) == "twi"
    with pytest.raises(ConfigError, match="'ell'.*no adapter"):
        mms_code("ell", MMS_KEYS)
