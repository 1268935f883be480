"""The embedded default's cascade grid, in one process, and its summary tables.

    python -m cascade.experiments [--out runs/cascade] [--languages eng deu ...] [--only zero_shot]

Runs ``configs/embedded/cascade.yaml`` with the native and the romanized overlays, zero-shot
from English and in-language for every language (imports and uroman load once instead of
once per run; finished runs are skipped), then prints from the run directories alone:
per-language accuracy on recognizer output and on gold text, and the zero-shot averages
over the non-Latin-script targets.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from workbench.runs import RunDir

CONFIG = Path("configs/embedded/cascade.yaml")
OVERLAYS = Path("configs/embedded/cascade")
ZERO_SHOT = Path("configs/protocol/zero_shot.yaml")
LANGUAGES = ["eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha"]
LATIN = {"eng", "deu", "spa"}


def grid(languages: list[str], only: str | None) -> list[tuple[str, list[str]]]:
    """``(run name, CLI args)`` of every run."""
    runs = []
    for text in ("romanized", "native"):
        base = ["-c", str(CONFIG), "-c", str(OVERLAYS / f"{text}.yaml")]
        if only in (None, "zero_shot"):
            runs.append((f"zero_shot-eng-{text}", [*base, "-c", str(ZERO_SHOT)]))
        if only in (None, "in_language"):
            for lang in languages:
                runs.append((f"in_language-{lang}-{text}", [*base, f"--data.protocol.sources=[{lang}]"]))
    return runs


def accuracy(metrics: dict, section: str, split: str, lang: str) -> float | None:
    part = metrics["splits"] if section == "asr" else metrics["sections"]["gold_text"]["splits"]
    scores = part.get(split, {}).get("per_language", {}).get(lang)
    return None if scores is None else scores["accuracy"]


def summarize(out: Path, languages: list[str], split: str = "test") -> str:
    """Markdown tables from the run directories under ``out``."""
    lines = [f"## in-language accuracy ({split}): recognizer output / gold text", ""]
    lines.append("| text | " + " | ".join(languages) + " |")
    lines.append("|---" * (len(languages) + 1) + "|")
    for text in ("native", "romanized"):
        cells = []
        for lang in languages:
            run = RunDir(out / f"in_language-{lang}-{text}")
            if not run.is_finished():
                cells.append("-")
                continue
            m = run.metrics()
            cells.append(f"{accuracy(m, 'asr', split, lang):.3f} / {accuracy(m, 'gold', split, lang):.3f}")
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    lines += ["", f"## zero-shot from eng ({split}): recognizer output / gold text", ""]
    lines.append("| text | " + " | ".join(languages) + " | non-Latin avg |")
    lines.append("|---" * (len(languages) + 2) + "|")
    for text in ("native", "romanized"):
        run = RunDir(out / f"zero_shot-eng-{text}")
        if not run.is_finished():
            continue
        m = run.metrics()
        asr = {lang: accuracy(m, "asr", split, lang) for lang in languages}
        gold = {lang: accuracy(m, "gold", split, lang) for lang in languages}
        cells = [f"{asr[x]:.3f} / {gold[x]:.3f}" if asr[x] is not None else "-" for x in languages]
        non_latin = [x for x in languages if x not in LATIN and asr[x] is not None]
        avg_asr = sum(asr[x] for x in non_latin) / max(1, len(non_latin))
        avg_gold = sum(gold[x] for x in non_latin) / max(1, len(non_latin))
        lines.append(f"| {text} | " + " | ".join(cells) + f" | {avg_asr:.3f} / {avg_gold:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/cascade", help="folder of the run directories")
    parser.add_argument("--languages", nargs="+", default=LANGUAGES)
    parser.add_argument("--only", choices=["zero_shot", "in_language"], default=None)
    parser.add_argument("--summary_only", action="store_true", help="print the tables of finished runs")
    parser.add_argument("--extra", nargs="*", default=[], help="more CLI args for every run")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not args.summary_only:
        from cascade import fit

        for name, run_args in grid(args.languages, args.only):
            if RunDir(out / name).is_finished():
                continue
            logging.warning("cascade run %s", name)
            fit.main([*run_args, *args.extra, f"--run_dir={out / name}"])
    table = summarize(out, args.languages)
    print(table)
    for split in ("test_unseen",):
        print("\n" + summarize(out, args.languages, split))
    return table


if __name__ == "__main__":
    main()
