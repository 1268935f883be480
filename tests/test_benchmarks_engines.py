"""The engine benchmarks (faster-whisper vs openai-whisper, uroman-fast vs uroman) in --quick mode:
they run, print their ratio lines and find identical outputs; timings are never asserted."""

from __future__ import annotations

import pytest

from tests.helpers.benchmark_runs import ratios, run


@pytest.mark.timeout(900)
@pytest.mark.long
def test_faster_whisper_quick_gives_openai_whispers_transcripts(tiny_corpus, tiny_root, tmp_path):
    pytest.importorskip("faster_whisper")
    out = run("faster_whisper", "--quick", "--data-root", str(tiny_root), "--work-dir", str(tmp_path))
    names = {"faster_whisper_int8", "faster_whisper_float32", "faster_whisper_clip_int8", "faster_whisper_clip10s_int8"}
    assert names <= set(ratios(out))
    assert "SAME_TRANSCRIPTS faster_whisper_float32: 4/4 identical" in out
    # clip windows: other transcripts than transcribe's, the same as openai-whisper's on those windows
    assert "SAME_TRANSCRIPTS faster_whisper_clip_float32 vs openai-whisper on the same clip windows: 4/4" in out


@pytest.mark.timeout(900)
@pytest.mark.long
def test_uroman_fast_quick_counts_mismatches_and_times_cold_passes(tmp_path):
    pytest.importorskip("uroman_fast")
    out = run("uroman_fast", "--quick", "--work-dir", str(tmp_path))
    assert "uroman_fast_cold" in ratios(out)
    assert "SAME_ROMANIZATIONS uroman_fast: 646/646 identical" in out
