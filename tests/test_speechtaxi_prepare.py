"""SpeechTaxi's MP3 -> 16 kHz FLAC preparation in several processes: same result as one, atomic, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from speech.speechtaxi import prepare_speechtaxi
from tests.helpers.speechtaxi_replica import speechtaxi_sized

REPO = Path(__file__).resolve().parents[1]


def flac_bytes(prepared) -> dict[str, bytes]:
    return {item.id: Path(item.audio).read_bytes() for item in prepared.items}


def test_two_processes_prepare_what_one_does(hub_cache, tmp_path):
    speechtaxi_sized(hub_cache, verses=6, seconds=1.0)
    one = prepare_speechtaxi(languages=["eng", "rus"], cache_dir=tmp_path / "one", processes=1)
    two = prepare_speechtaxi(languages=["eng", "rus"], cache_dir=tmp_path / "two", processes=2)
    fields = lambda p: sorted((i.id, i.label, i.split, i.text, Path(i.audio).name) for i in p.items)  # noqa: E731
    assert fields(one) == fields(two) and len(one.items) == 12
    assert flac_bytes(one) == flac_bytes(two)
    info = sf.info(two.items[0].audio)
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")


def audio_files(cache: Path) -> list[Path]:
    return sorted(cache.rglob("audio/*"))


def test_a_killed_preparation_keeps_whole_clips_only_and_resumes(hub_cache, tmp_path):
    """Killed (SIGKILL, workers too) midway: every clip on disk is whole; the rerun keeps them and decodes the rest."""
    seconds = 2.0
    speechtaxi_sized(hub_cache, verses=40, seconds=seconds)
    cache = tmp_path / "c"
    env = {**os.environ, "HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "speech.corpora", "prepare", "speechtaxi", "--languages", "eng", "rus"]
    proc = subprocess.Popen(
        [*command, "--processes", "2", "--cache-dir", str(cache)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len([p for p in audio_files(cache) if p.suffix == ".flac"]) < 4 and proc.poll() is None:
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not list(cache.rglob("items.jsonl")), "the preparation ended before it was killed"
    finished = {p: p.stat().st_ino for p in audio_files(cache) if p.suffix == ".flac"}
    assert 4 <= len(finished) < 80
    for path in finished:  # a name ending in .flac is a whole clip: written aside, then renamed
        frames, rate = sf.read(path)
        assert rate == 16000 and len(frames) == int(seconds * 16000)

    prepared = prepare_speechtaxi(languages=["eng", "rus"], cache_dir=cache, processes=2)
    assert len(prepared.items) == 80
    assert all(path.stat().st_ino == inode for path, inode in finished.items())  # kept, not decoded again
    assert [p for p in audio_files(cache) if p.suffix != ".flac"] == []  # the killed run's temporary files are gone
    assert all(len(sf.read(item.audio)[0]) == int(seconds * 16000) for item in prepared.items)
