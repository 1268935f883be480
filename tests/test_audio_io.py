"""Audio reading: conversion of any rate/channel count, and a clear error for every kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speech.audio import SAMPLE_RATE, load_audio
from speech.checks import check_audio_items
from tests.helpers.audio_fixtures import tone, write_audio
from workbench.data.validate import SkipReport
from workbench.errors import DataError
from workbench.items import Item


def test_8k_stereo_becomes_16k_mono(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(1.0, rate=8000, channels=2), rate=8000)
    audio = load_audio(path)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert len(audio) == SAMPLE_RATE
    assert 0.25 < np.abs(audio).max() < 0.35  # the tone survives resampling at its level


def test_44k_flac_and_length_cap(tmp_path):
    path = write_audio(tmp_path / "a.flac", tone(3.0, rate=44100), rate=44100, fmt="FLAC")
    assert len(load_audio(path, max_seconds=1.5)) == int(1.5 * SAMPLE_RATE)
    assert len(load_audio(path, max_seconds=None)) == 3 * SAMPLE_RATE


def bad_files(tmp_path):
    good = write_audio(tmp_path / "good.wav", tone(1.0)).read_bytes()
    (tmp_path / "truncated.wav").write_bytes(good[: len(good) // 2])
    flac = write_audio(tmp_path / "good.flac", tone(1.0), fmt="FLAC").read_bytes()
    (tmp_path / "truncated.flac").write_bytes(flac[: len(flac) // 3])
    write_audio(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    write_audio(tmp_path / "zeros.wav", np.zeros(16000, dtype=np.float32))
    nan = tone(0.5)
    nan[100] = np.nan
    sf.write(str(tmp_path / "nan.wav"), nan, 16000, subtype="FLOAT")
    sf_inf = tone(0.5)
    sf_inf[5] = np.inf
    sf.write(str(tmp_path / "inf.wav"), sf_inf, 16000, subtype="FLOAT")
    (tmp_path / "text.wav").write_bytes(b"this is not audio at all, just bytes" * 10)
    return {
        "truncated.wav": "truncated",
        "truncated.flac": "truncated|unreadable",
        "empty.wav": "empty",
        "zeros.wav": "silent",
        "nan.wav": "NaN",
        "inf.wav": "NaN or infinite",
        "text.wav": "unreadable",
        "missing.wav": "not found",
    }


def test_each_bad_file_gets_a_clear_error(tmp_path):
    for name, problem in bad_files(tmp_path).items():
        with pytest.raises(DataError, match=rf"item 'x'.*field 'audio'.*({problem})"):
            load_audio(tmp_path / name, where="item 'x'")


def test_bad_items_skipped_and_counted(tmp_path):
    faults = bad_files(tmp_path)
    items = [
        Item(id=name, content_id=name, language="eng", label=0, split="train", audio=str(tmp_path / name))
        for name in ["good.wav", *faults]
    ]
    with pytest.raises(DataError, match="item 'truncated.wav'"):
        check_audio_items(items)
    report = SkipReport()
    kept = check_audio_items(items, on_bad_item="skip", report=report)
    assert [i.id for i in kept] == ["good.wav"]
    assert report.count == len(faults)
    assert "item 'zeros.wav'" in report.skipped and "silent" in report.skipped["item 'zeros.wav'"]
