"""uroman-fast (uroman's Rust port) vs uroman: same output? and cold first-pass speed.

    python -m benchmarks.uroman_fast [--quick | --full] [--rounds N] [--show N]

The strings are those of the embedded corpus (generated without audio by
``workbench.data.cldr_text`` and the build's plan: every utterance text and every CLDR name,
per language; ``--quick``: the tiny build's, default and ``--full``: the full build's).

1. Agreement: every string romanized by both engines (through :class:`workbench.romanize.Romanizer`,
   ``engine="uroman-fast"`` and ``engine="uroman"``, the reference); mismatches counted per
   language and listed (``--show`` of them); the languages where they agree on every string
   are compared with :data:`workbench.romanize.FAST_VERIFIED`, the per-language fallback.
2. Speed, cold: each round romanizes every distinct string once in a fresh Python process per
   engine (engine load and first pass included, as a new run pays them), the two engines
   interleaved; the ratio of median times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.common import Interleaved, base_parser, header, load_average

ROOT = Path(__file__).resolve().parents[1]

# one cold pass in a fresh process: load the engine, romanize every string, print the seconds
COLD = """
import json, sys, time
started = time.perf_counter()
from workbench.romanize import Romanizer
romanizer = Romanizer(engine=sys.argv[2])
for text, language in json.load(open(sys.argv[1], encoding="utf-8")):
    romanizer.romanize(text, language)
print(time.perf_counter() - started)
"""


def corpus_strings(tiny: bool) -> list[tuple[str, str]]:
    """Every distinct ``(text, language)`` of the embedded corpus: utterance texts and CLDR names."""
    from workbench.data.cldr_text import item_names
    from workbench.data.embedded import EmbeddedSettings, plan_rows, tiny_settings

    settings = tiny_settings() if tiny else EmbeddedSettings()
    rows, _ = plan_rows(settings)
    pairs = [(row.text, row.language) for row in rows]
    for language in settings.languages:
        pairs += [(name, language) for names in item_names(language).values() for name in names.values()]
    return list(dict.fromkeys(pairs))


def agreement(pairs: list[tuple[str, str]], show: int) -> tuple[list[str], set[str]]:
    """Lines about where the engines differ, and the languages where they never do."""
    from workbench.romanize import FAST_VERIFIED, Romanizer

    fast, reference = Romanizer(engine="uroman-fast"), Romanizer(engine="uroman")
    total, differing = Counter(), Counter()
    examples = []
    for text, language in pairs:
        a, b = fast.romanize(text, language), reference.romanize(text, language)
        code = reference.language_code(language)
        total[code] += 1
        if a != b:
            differing[code] += 1
            examples.append(f"  {language}: {text[:40]!r} -> uroman-fast {a[:40]!r} vs uroman {b[:40]!r}")
    same = {code for code in total if not differing[code]}
    lines = [
        f"SAME_ROMANIZATIONS uroman_fast: {len(pairs) - sum(differing.values())}/{len(pairs)} identical; "
        f"mismatches per language: {dict(differing) or 'none'} (of {dict(total)})",
        *examples[:show],
        f"  ({len(examples) - show} more mismatches not shown)" if len(examples) > show else "",
        f"languages identical on every string: {sorted(same)}; FAST_VERIFIED (uses uroman-fast): "
        f"{sorted(FAST_VERIFIED)}; verified but differing here: {sorted(FAST_VERIFIED & set(differing)) or 'none'}",
    ]
    return [line for line in lines if line], same


def cold_pass(strings_file: Path, engine: str) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", COLD, str(strings_file), engine], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=20, help="mismatches listed at most")
    args = parser.parse_args(argv)
    import torch  # only for the header's thread count: nothing here uses torch

    torch.set_num_threads(args.threads)
    rounds = args.rounds or (2 if args.quick else 4 if args.full else 3)
    lines = header("uroman-fast vs uroman: agreement, cold first pass", args)
    pairs = corpus_strings(tiny=args.quick)
    lines.append(f"strings: {len(pairs)} distinct (text, language), {len({lang for _, lang in pairs})} languages")
    more, same = agreement(pairs, args.show)
    lines += more
    result = Interleaved("uroman_fast_cold", "uroman_fast", "uroman")
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        strings_file = Path(tmp) / "strings.json"
        strings_file.write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
        for round_ in range(rounds):  # A, B, B, A, ...: a fresh process for every pass
            result.loads.append(float(load_average().split()[0]))
            order = ["uroman-fast", "uroman"] if round_ % 2 == 0 else ["uroman", "uroman-fast"]
            for engine in order:
                seconds = cold_pass(strings_file, engine)
                (result.times_a if engine == "uroman-fast" else result.times_b).append(seconds)
    lines += result.lines(quick=args.quick)
    print("\n".join(lines), flush=True)
    return {"ratio": result.median_ratio(), "identical_languages": sorted(same)}


if __name__ == "__main__":
    main()
