"""The files of an embedded build: audio, manifest rows, per-language parts, lock, summary.

Split from :mod:`workbench.data.embedded` (settings, plan, build and load) so that each
module keeps one job. Every file is written atomically, so a killed build leaves either a
finished file or a temporary one that the next build removes.

A build folder holds, besides ``audio/`` and ``manifest.jsonl``, one ``manifest.<language>.jsonl``
per finished language: the manifest rows of that language (beside ``manifest.jsonl``, so its
relative audio paths resolve the same way). A run that needs only some
languages (``in_language`` on English) builds and loads just their parts; the whole
dataset is assembled from the parts later, without synthesizing them again.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile as sf

from workbench.data.cldr_text import CLASSES
from workbench.data.plan import PlannedUtterance
from speech.tts import flac_bytes, speak
from workbench.io import atomic_write_bytes, atomic_write_jsonl, read_jsonl
from workbench.items import SPLITS
from workbench.romanize import default_romanizer


def synthesize(row: PlannedUtterance, folder: Path, sample_rate: int) -> float:
    """Write one utterance's FLAC unless a finished one exists; return its duration in seconds."""
    path = folder / row.audio
    if path.is_file():
        with contextlib.suppress(RuntimeError):  # unreadable: synthesize it again
            info = sf.info(str(path))
            if info.samplerate == sample_rate and info.frames > 0:
                return info.frames / sample_rate
    audio = speak(row.text, row.prosody, sample_rate)
    atomic_write_bytes(path, flac_bytes(audio, sample_rate))
    return len(audio) / sample_rate


def manifest_row(row: PlannedUtterance, romanized: str, duration_s: float) -> dict:
    """The manifest record: the columns :func:`load_manifest` reads, then build details."""
    return {
        "id": row.id,
        "content_id": row.content.content_id,
        "language": row.language,
        "label": row.content.cls,
        "split": row.split,
        "audio": row.audio,
        "text": row.text,
        "romanized": romanized,
        "items": list(row.content.keys),
        "held_out": list(row.held_out),
        "voice": row.prosody.voice,
        "rate": row.prosody.rate,
        "pitch": row.prosody.pitch,
        "pitch_range": row.prosody.pitch_range,
        "peak": row.prosody.peak,
        "duration_s": round(duration_s, 3),
    }


def part_path(folder: Path, language: str) -> Path:
    """The manifest rows of one finished language."""
    return folder / f"manifest.{language}.jsonl"


def read_part(folder: Path, language: str) -> list[dict] | None:
    """The rows of a finished language, or None when that language is not built yet."""
    path = part_path(folder, language)
    return read_jsonl(path) if path.is_file() else None


def write_part(folder: Path, language: str, records: list[dict]) -> None:
    atomic_write_jsonl(part_path(folder, language), records)


def build_rows(
    rows: list[PlannedUtterance], folder: Path, sample_rate: int, workers: int, progress: bool
) -> dict[str, list[dict]]:
    """Synthesize (or find) the audio of ``rows`` and write each language's part; its records by language.

    A language's romanizations come from its part when one exists: a finished part is only
    checked for lost audio files, which are synthesized again.
    """
    languages = list(dict.fromkeys(row.language for row in rows))
    known = {lang: {r["id"]: r["romanized"] for r in read_part(folder, lang) or []} for lang in languages}
    remaining = Counter(row.language for row in rows)
    records: dict[str, list[dict]] = {lang: [] for lang in languages}
    description = f"embedded dataset: {' '.join(languages)}"
    # Threads suffice: the work happens in espeak-ng processes and numpy, outside the GIL.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        with progress_bar(len(rows), description, progress) as bar:
            durations = [pool.submit(synthesize, row, folder, sample_rate) for row in rows]
            for future in durations:  # counts finished audio, even while uroman is still loading
                future.add_done_callback(lambda _: bar.update())
            romanizer = None
            for row, future in zip(rows, durations, strict=True):
                # uroman runs here while the workers synthesize ahead; each distinct string once.
                romanized = known[row.language].get(row.id)
                if romanized is None:
                    romanizer = romanizer or default_romanizer()
                    romanized = romanizer.romanize(row.text, row.language)
                records[row.language].append(manifest_row(row, romanized, future.result()))
                remaining[row.language] -= 1
                if not remaining[row.language] and not known[row.language]:
                    write_part(folder, row.language, records[row.language])
    finally:
        # On an error or Ctrl-C, drop the queued utterances instead of synthesizing them all.
        pool.shutdown(wait=True, cancel_futures=True)
    return records


@contextlib.contextmanager
def build_lock(folder: Path):
    """One builder per folder: a concurrent caller waits, then finds the build finished."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: builds are still safe (atomic writes), only duplicated
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_partial_files(folder: Path) -> None:
    """Delete the temporary files a killed build left behind (the caller holds the lock)."""
    for tmp in folder.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def progress_bar(total: int, description: str, enabled: bool):
    """A tqdm bar on stderr (a build takes minutes and printed nothing before); a no-op when off."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit="utt", file=sys.stderr, disable=not enabled, mininterval=1.0, leave=True
    )


def folder_size(folder: Path) -> int:
    """Bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def summarize(records: list[dict]) -> dict:
    """Counts per language x split and per split x class, and hours of audio."""
    by_language: dict[str, Counter] = {}
    by_class: dict[str, Counter] = {}
    for r in records:
        by_language.setdefault(r["language"], Counter())[r["split"]] += 1
        by_class.setdefault(r["split"], Counter())[r["label"]] += 1
    return {
        "utterances": len(records),
        "audio_hours": round(sum(r["duration_s"] for r in records) / 3600, 3),
        "per_language": {lang: {s: c[s] for s in SPLITS if c[s]} for lang, c in by_language.items()},
        "per_class": {
            s: {cls: by_class[s][cls] for cls in CLASSES if by_class[s][cls]} for s in SPLITS if s in by_class
        },
    }
