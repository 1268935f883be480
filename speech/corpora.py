"""Command line for the speech corpora: building the embedded default (spoken) and preparing real ones.

    python -m speech.corpora build [--root data] [--languages eng deu ...] [--per-language 600] [--seed 0]
    python -m speech.corpora prepare speechtaxi [--languages eng tw-akuapem ...] [--revision REV] [--processes N]

Builds (or finds) the dataset and prints its folder, size on disk, build time and counts
per language x split and per split x class.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from speech.embedded import build_embedded, embedded_dir
from speech.speechtaxi import prepare_speechtaxi
from workbench.data.cldr_text import LANGUAGES
from workbench.data.embedded import EmbeddedSettings, is_built, tiny_settings
from workbench.errors import WorkbenchError
from workbench.io import read_json
from workbench.items import SPLITS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m speech.corpora", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the embedded dataset, or report the cached build")
    build.add_argument("--root", default="data", help="folder holding the builds (default: data)")
    build.add_argument(
        "--languages", nargs="+", metavar="CODE", help=f"ISO 639-3 codes (default: 8); known: {' '.join(LANGUAGES)}"
    )
    build.add_argument("--per-language", type=int, help="training utterances per language (default 600)")
    build.add_argument("--dev", type=int, help="dev utterances per language (default 60)")
    build.add_argument("--test", type=int, help="test utterances per language (default 150)")
    build.add_argument("--test-unseen", type=int, help="test_unseen utterances per language (default 100)")
    build.add_argument("--seed", type=int, help="random seed (default 0)")
    build.add_argument("--tiny", action="store_true", help="start from the tiny test settings instead of the default")
    build.add_argument("--workers", type=int, help="espeak-ng processes at once (does not change the data)")
    build.add_argument("--quiet", action="store_true", help="no progress bar or log")
    prepare = commands.add_parser("prepare", help="download and decode a real dataset once (the source also does it)")
    prepare.add_argument("dataset", choices=["speechtaxi"], help="the dataset to prepare")
    prepare.add_argument("--path", default="LennartKeller/SpeechTaxi", help="hub id or local folder with the zips")
    prepare.add_argument("--languages", nargs="+", metavar="CODE", help="language configs (default: all 28)")
    prepare.add_argument("--revision", help="hub revision (commit, tag, branch) to pin; default main")
    prepare.add_argument("--token-env", default="HF_TOKEN", help="environment variable holding a hub token")
    prepare.add_argument("--cache-dir", default="data/cache", help="where the prepared audio goes (default data/cache)")
    prepare.add_argument(
        "--on-bad-item", choices=["raise", "skip"], default="raise", help="a bad row stops or is counted"
    )
    prepare.add_argument("--processes", type=int, help="MP3 decoding processes (default: the usable cores)")
    return parser


def prepare_main(args: argparse.Namespace) -> None:
    """Prepare SpeechTaxi and print where it went and its items per language and split."""
    from collections import Counter

    prepared = prepare_speechtaxi(
        args.path, args.languages, args.cache_dir, args.revision, args.token_env, args.on_bad_item, args.processes
    )
    counts: dict[str, Counter] = {}
    for item in prepared.items:
        counts.setdefault(item.language, Counter())[item.split] += 1
    print(
        f"prepared: {prepared.meta['prepared']} ({len(prepared.items)} items, "
        f"{prepared.meta['skipped']['skipped']} skipped)"
    )
    print(_table({lang: dict(c) for lang, c in sorted(counts.items())}, "language"))


def settings_from_args(args: argparse.Namespace) -> EmbeddedSettings:
    """The settings the command line asks for: the default (or tiny) ones plus the flags given."""
    changes = {
        "languages": tuple(args.languages) if args.languages else None,
        "per_language": args.per_language,
        "dev_per_language": args.dev,
        "test_per_language": args.test,
        "test_unseen_per_language": args.test_unseen,
        "seed": args.seed,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    return tiny_settings(**changes) if args.tiny else EmbeddedSettings(**changes)


def report(folder: Path, seconds: float, cached: bool) -> str:
    """A human-readable summary of a finished build."""
    meta = read_json(folder / "dataset.json")
    lines = [
        f"dataset: {folder}",
        f"status: {'cached, built earlier in' if cached else 'built in'} {meta['build_seconds']:.1f} s"
        + ("" if not cached else f" (this call {seconds:.1f} s)"),
        f"size on disk: {meta['size_bytes'] / 1e6:.1f} MB, {meta['utterances']} utterances, "
        f"{meta['audio_hours']:.2f} h of audio",
        "held out for test_unseen: " + "; ".join(f"{c}: {' '.join(k)}" for c, k in meta["held_out"].items()),
        "",
        "utterances per language and split:",
        _table(meta["per_language"], "language"),
        "",
        "utterances per class and split (each language):",
        _table(_per_class_per_language(meta), "class"),
    ]
    return "\n".join(lines)


def _per_class_per_language(meta: dict) -> dict[str, dict[str, int]]:
    languages = max(1, len(meta["per_language"]))
    table: dict[str, dict[str, int]] = {}
    for split, counts in meta["per_class"].items():
        for cls, n in counts.items():
            table.setdefault(cls, {})[split] = n // languages
    return table


def _table(rows: dict[str, dict[str, int]], first: str) -> str:
    columns = [s for s in SPLITS if any(s in r for r in rows.values())]
    width = max([len(first), *map(len, rows)]) + 2
    out = [first.ljust(width) + "".join(c.rjust(12) for c in columns) + "total".rjust(8)]
    for name, counts in rows.items():
        cells = "".join(str(counts.get(c, 0)).rjust(12) for c in columns)
        out.append(name.ljust(width) + cells + str(sum(counts.values())).rjust(8))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO, format="%(asctime)s %(message)s"
    )
    try:
        if args.command == "prepare":
            prepare_main(args)
            return 0
        settings = settings_from_args(args)
        cached = is_built(embedded_dir(settings, args.root))
        started = time.perf_counter()
        folder = build_embedded(settings, args.root, workers=args.workers, progress=not args.quiet)
        print(report(folder, time.perf_counter() - started, cached))
    except WorkbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
