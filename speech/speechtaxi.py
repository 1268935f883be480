"""SpeechTaxi from its raw files: ``tables.zip`` (metadata tables) + ``data.zip`` (MP3), no loading script.

The repository (``LennartKeller/SpeechTaxi``) is a ``datasets`` loading script, which
``datasets`` >= 4 refuses to run. Its script could only be read in part, so the table layout
is discovered here at run time: one table per split, or a split column; the language from a
column or the table's name; the audio path from the column whose values name audio files.
A layout this code does not know fails with the archive and what was found in it.

Preparing decodes each MP3 with soundfile (libsndfile >= 1.1), makes it 16 kHz mono and
writes it as FLAC, then writes one ``items.jsonl`` per language: the same local cached form
every other source uses. The clips are decoded in several processes (``processes``, default
every usable core) behind one progress bar. It is idempotent (a prepared language is read back,
with no hub call) and resumable: each FLAC is written atomically (a killed preparation leaves
whole files only) and kept, so a rerun decodes only the clips still missing.

    python -m speech.corpora prepare speechtaxi --languages eng tw-akuapem
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from filelock import FileLock

from workbench.data.hubfiles import repo_file
from workbench.data.validate import OnBadItem, SkipReport
from workbench.errors import DataError
from workbench.io import atomic_write_bytes, atomic_write_jsonl, read_jsonl
from workbench.items import SPLIT_ALIASES, SPLITS, Item, canonical_split

REPO = "LennartKeller/SpeechTaxi"
DATA_ARCHIVE, TABLE_ARCHIVE = "data.zip", "tables.zip"
#: SpeechTaxi's six classes (Keller & Glavaš, 2024), in the dataset's ClassLabel order.
SPEECHTAXI_LABELS = ["Recommendation", "Faith", "Description", "Sin", "Grace", "Violence"]
#: The 28 language configs (the script's NAMES without "all"): ISO 639-3 except the two Twi variants.
LANGUAGES = (
    "asm bgc bht ckb eng ewe fra guj ibo kan lin luo mal mar nag nde nlx pan peg rus tam tel "
    "tw-akuapem tw-asante ukr urd vie yor"
).split()
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json", ".feather")
AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg")
SPLIT_COLUMNS = ("split", "partition", "subset", "set")
AUDIO_COLUMNS = ("audio", "audio_path", "path", "file", "file_name", "filename", "audio_file", "mp3")
CLIPS_PER_PROCESS = 20  # a few clips per decoding process at least, or starting the pool costs more than it saves
FORMAT = 1  # bump when the prepared form changes: prepared folders of another format are rebuilt


@dataclass
class Prepared:
    """Prepared items of the languages asked for, plus ``meta`` (``skipped`` rows and why)."""

    items: list[Item]
    meta: dict = field(default_factory=dict)


def _read_table(archive: zipfile.ZipFile, name: str):
    import pandas as pd

    data = io.BytesIO(archive.read(name))
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(data, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    if suffix == ".parquet":
        return pd.read_parquet(data)
    if suffix == ".feather":
        return pd.read_feather(data)
    return pd.read_json(data, lines=suffix == ".jsonl", dtype=False)


def _split_of_name(name: str) -> str | None:
    tokens = set(re.split(r"[/_.\-\s]+", name.lower()))
    found = {canonical_split(t, name) for t in tokens if t in SPLITS or t in SPLIT_ALIASES}
    return found.pop() if len(found) == 1 else None


def _language_of_name(name: str) -> str | None:
    found = [code for code in LANGUAGES if re.search(rf"(?<![a-z]){re.escape(code)}(?![a-z])", name.lower())]
    return found[0] if len(found) == 1 else None


def _audio_column(frame) -> str | None:
    for column in frame.columns:
        values = frame[column].dropna().astype(str)
        if len(values) and values.str.lower().str.endswith(AUDIO_SUFFIXES).mean() > 0.5:
            if column.lower() in AUDIO_COLUMNS or column.lower().endswith(("path", "file", "audio")):
                return column
    for column in frame.columns:  # any column of audio file names, whatever it is called
        values = frame[column].dropna().astype(str)
        if len(values) and values.str.lower().str.endswith(AUDIO_SUFFIXES).mean() > 0.5:
            return column
    return None


def discover_tables(archive: zipfile.ZipFile, where: str):
    """All usable tables of ``tables.zip`` as one frame, plus ``wb_split``, ``wb_language``, ``wb_audio``, ``wb_table``.

    Raises:
        DataError: naming the archive and what it holds, when no table has a label, a verse
            reference, an audio path, a split (column or name) and a language (column or name).
    """
    import pandas as pd

    names = [n for n in archive.namelist() if n.lower().endswith(TABLE_SUFFIXES) and "__MACOSX" not in n]
    if not names:
        raise DataError(where, "tables", f"no table file {TABLE_SUFFIXES}; the archive holds {archive.namelist()[:20]}")
    frames, found = [], []
    for name in names:
        frame = _read_table(archive, name)
        split_column = next((c for c in frame.columns if c.lower() in SPLIT_COLUMNS), None)
        audio_column = _audio_column(frame)
        split = None if split_column else _split_of_name(name)
        language = None if "language" in frame.columns else _language_of_name(name)
        found.append(f"{name}: columns {list(frame.columns)}")
        usable = {"label", "verse_ref"} <= set(frame.columns) and audio_column is not None
        if not usable or not (split_column or split) or not ("language" in frame.columns or language):
            continue
        frame = frame.assign(
            wb_split=[canonical_split(s, f"{where} table '{name}'") for s in frame[split_column]]
            if split_column
            else split,
            wb_language=frame["language"].astype(str) if "language" in frame.columns else language,
            wb_audio=frame[audio_column].astype(str),
            wb_table=name,
        )
        frames.append(frame)
    if not frames:
        raise DataError(
            where,
            "tables",
            "no table in a known layout (columns label, verse_ref and an audio path; a split column or a split "
            f"in the file name; a language column or a language in the file name); found: {'; '.join(found)}",
        )
    return pd.concat(frames, ignore_index=True)


class AudioIndex:
    """``data.zip`` members found from a table's audio path when one path ends with the other.

    The table may name ``data/<rec>/.../Verse_1.mp3`` while the archive holds ``<rec>/.../Verse_1.mp3``
    (or the other way round). A path is never matched on a shorter tail than its whole self:
    ``Verse_4.mp3`` of chapter 1 must not be found as chapter 2's.
    """

    def __init__(self, names: list[str]):
        self.members = {name for name in names if name.lower().endswith(AUDIO_SUFFIXES)}
        self.by_tail: dict[str, str | None] = {}
        for name in self.members:
            parts = PurePosixPath(name).parts
            for k in range(1, len(parts)):
                tail = "/".join(parts[k:])
                # a tail shared by several members (Verse_10.mp3 of many chapters) maps to None: never guessed
                self.by_tail[tail] = name if self.by_tail.get(tail, name) == name else None

    def find(self, value: str) -> str | None:
        path = value.replace("\\", "/").lstrip("/")
        if path in self.members:
            return path
        if self.by_tail.get(path):
            return self.by_tail[path]  # the table's path is the tail of one member
        parts = PurePosixPath(path).parts
        return next(("/".join(parts[k:]) for k in range(1, len(parts)) if "/".join(parts[k:]) in self.members), None)


def _label(value, where: str) -> int:
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+", text) and int(text) < len(SPEECHTAXI_LABELS):
        return int(text)
    for index, name in enumerate(SPEECHTAXI_LABELS):
        if text.lower() == name.lower():
            return index
    raise DataError(where, "label", f"unknown label '{value}', known: {SPEECHTAXI_LABELS} or 0-5")


def _text(value) -> str | None:
    """A transcript cell; empty, None and NaN (a missing cell in a parquet table) are None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value) or None


# data.zip opened once per decoding process; keyed by pid too: a forked child must not read through its
# parent's handle, whose file offset the two would share (interleaved reads fail their CRC)
_ARCHIVES: dict[tuple[int, str], zipfile.ZipFile] = {}


def decode_clip(data_zip: str, member: str, target: str) -> tuple[str, str] | None:
    """Decode ``member`` of ``data_zip`` (an MP3) to 16 kHz mono FLAC at ``target``, atomically.

    Runs in a worker process (one ``data.zip`` handle per process). Returns None, or the field
    and problem of a clip that cannot be decoded (the caller names the item).
    """
    import soundfile as sf

    from speech.audio import SAMPLE_RATE, prepare

    key = (os.getpid(), data_zip)
    if key not in _ARCHIVES:
        _ARCHIVES[key] = zipfile.ZipFile(data_zip)
    try:
        samples, rate = sf.read(io.BytesIO(_ARCHIVES[key].read(member)), dtype="float32", always_2d=False)
        buffer = io.BytesIO()
        sf.write(buffer, prepare(samples, rate, member, max_seconds=None), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        return "audio", f"undecodable audio '{member}' in {DATA_ARCHIVE}: {err}"
    except DataError as err:
        return err.field, err.problem
    atomic_write_bytes(target, buffer.getvalue())  # a killed worker leaves the old state: no file, or a whole one
    return None


def one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def decoding_processes(processes: int | None, clips: int) -> int:
    """``processes`` as asked (at most one a clip); by default the usable cores, but one process per
    :data:`CLIPS_PER_PROCESS` clips at most."""
    if processes:
        return max(1, min(processes, clips))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, clips // CLIPS_PER_PROCESS))


def decode_all(data_zip: str, clips: dict[Path, str], processes: int | None, bar) -> dict[Path, tuple[str, str]]:
    """Decode every ``target -> member`` of ``clips`` not yet on disk, in parallel (:func:`decoding_processes`).

    Returns the clips that failed (target -> field, problem). Finished clips stay on disk
    whatever happens after, so a killed preparation resumes where it stopped.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    todo = {target: member for target, member in clips.items() if not target.is_file()}
    bar.update(len(clips) - len(todo))
    failed, processes = {}, decoding_processes(processes, len(todo))
    if processes == 1:  # in this process: no pool to start for a few clips or a single core
        for target, member in todo.items():
            if problem := decode_clip(data_zip, member, str(target)):
                failed[target] = problem
            bar.update(1)
        return failed
    # forked, as a DataLoader's workers are: they start at once with torch imported (a spawned process
    # spends seconds importing it); one torch thread each, the processes being the parallelism
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=one_torch_thread) as pool:
        futures = {pool.submit(decode_clip, data_zip, member, str(target)): target for target, member in todo.items()}
        for future in as_completed(futures):
            if problem := future.result():
                failed[futures[future]] = problem
            bar.update(1)
    return failed


def _items_of_language(frame, language, folder, index: AudioIndex, clips: dict[Path, str]):
    """(item, where, target or a problem) for each row of one language; fills ``clips`` with what to decode."""
    rows, seen = [], set()
    for position, row in enumerate(frame.itertuples(index=False)):
        verse = str(row.verse_ref)
        item_id = f"{language}-{verse}"
        while item_id in seen:  # the same verse twice in one language: keep both, apart
            item_id += "+"
        seen.add(item_id)
        where = f"{TABLE_ARCHIVE} table '{row.wb_table}' language '{language}' row {position} item '{item_id}'"
        member = index.find(row.wb_audio)
        if member is None:
            rows.append(
                (row, item_id, where, ("audio", f"'{row.wb_audio}' not found (or ambiguous) in {DATA_ARCHIVE}"))
            )
            continue
        target = folder / "audio" / f"{hashlib.sha1(member.encode()).hexdigest()[:16]}.flac"
        clips[target] = member
        rows.append((row, item_id, where, target))
    return rows


def _finish_language(rows, language, failed, on_bad_item, report) -> list[Item]:
    items = []
    for row, item_id, where, target in rows:
        try:
            problem = target if isinstance(target, tuple) else failed.get(target)
            if problem:
                raise DataError(where, *problem)
            items.append(
                Item(
                    id=item_id,
                    content_id=str(row.verse_ref),
                    language=language,
                    label=_label(row.label, where),
                    split=row.wb_split,
                    audio=str(target),
                    text=_text(getattr(row, "transcription", None)),
                    romanized=_text(getattr(row, "transcription_romanized", None)),
                )
            )
        except DataError as error:
            if on_bad_item == "raise":
                raise
            report.add(error)
    return items


def prepared_folder(cache_dir: str | Path, path: str, revision: str | None) -> Path:
    """Where one repository revision is prepared: ``<cache_dir>/speechtaxi/<hash of path, revision, format>``."""
    local = str(Path(path).expanduser().resolve()) if Path(path).expanduser().is_dir() else path
    digest = hashlib.sha1(repr((local, revision or "main", FORMAT)).encode()).hexdigest()[:12]
    return Path(cache_dir) / "speechtaxi" / digest


def _prepare_languages(path, revision, token_env, root: Path, todo, on_bad_item, processes, report) -> None:
    """Decode the clips of ``todo`` and write each language's ``items.jsonl`` (under the folder's lock)."""
    from tqdm.auto import tqdm

    tables_zip = repo_file(path, TABLE_ARCHIVE, revision, token_env)
    with zipfile.ZipFile(tables_zip) as tables:
        frame = discover_tables(tables, f"archive '{TABLE_ARCHIVE}' of '{path}'")
    found = sorted(set(frame["wb_language"]))
    missing = [lang for lang in todo if lang not in found]
    if missing:
        raise DataError(f"archive '{TABLE_ARCHIVE}' of '{path}'", "language", f"no rows for {missing}; has {found}")
    data_zip = repo_file(path, DATA_ARCHIVE, revision, token_env)
    with zipfile.ZipFile(data_zip) as data:
        index = AudioIndex(data.namelist())
    clips: dict[Path, str] = {}
    rows = {
        lang: _items_of_language(frame[frame["wb_language"] == lang], lang, root / lang, index, clips) for lang in todo
    }
    for lang in todo:  # temporary files of a killed preparation (the lock says no one else is writing)
        for stale in (root / lang / "audio").glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    with tqdm(total=len(clips), desc="SpeechTaxi: decoding MP3", unit="clip") as bar:
        failed = decode_all(str(data_zip), clips, processes, bar)
    for lang in todo:
        items = _finish_language(rows[lang], lang, failed, on_bad_item, report)
        skipped = {w: r for w, r in report.skipped.items() if f"language '{lang}'" in w}
        lines = [item.to_dict() for item in items] + [{"_skipped": w, "reason": r} for w, r in skipped.items()]
        atomic_write_jsonl(root / lang / "items.jsonl", lines)  # last: its presence marks the language prepared


def prepare_speechtaxi(
    path: str = REPO,
    languages: list[str] | None = None,
    cache_dir: str | Path = Path("data") / "cache",
    revision: str | None = None,
    token_env: str | None = "HF_TOKEN",
    on_bad_item: OnBadItem = "raise",
    processes: int | None = None,
) -> Prepared:
    """Prepare (once) and return the items of ``languages`` (default all 28); see the module doc.

    ``processes`` decode the MP3 in parallel (default: every usable core, see :func:`decoding_processes`).
    """
    languages = list(languages or LANGUAGES)
    root = prepared_folder(cache_dir, path, revision)
    done = {lang: root / lang / "items.jsonl" for lang in languages}
    report = SkipReport()
    if not all(marker.is_file() for marker in done.values()):
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(root / ".prepare.lock"):  # a second process (sweep worker, DDP rank) waits, then reads
            todo = [lang for lang, marker in done.items() if not marker.is_file()]
            if todo:
                _prepare_languages(path, revision, token_env, root, todo, on_bad_item, processes, report)
    items = []
    for lang in languages:
        for row in read_jsonl(done[lang]):
            if "_skipped" in row:
                if on_bad_item == "raise":  # prepared earlier with skip: a bad row is still bad
                    raise DataError(row["_skipped"], *row["reason"].split(": ", 1))
                report.skipped[row["_skipped"]] = row["reason"]
            else:
                items.append(Item(**row))
    report.log(f"SpeechTaxi '{path}'")
    return Prepared(items, {"skipped": report.summary(), "prepared": str(root)})
