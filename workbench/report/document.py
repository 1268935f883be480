"""``report.md``: the report's tables and tests as readable markdown, warnings first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.languages import written_without_spaces
from workbench.report import calibration, stats, tables
from workbench.report.frame import Runs

UNPAIRED_SHOWN = 20  # the full list is in unpaired_<split>.csv
# a system named ``<name>-standin`` runs a tiny model trained in its own sweep in place of a pretrained one
STANDIN = "-standin"
STANDIN_NOTE = (
    f" Systems named `…{STANDIN}` are STAND-INS trained here: the real system's architecture class at tiny size, "
    "trained from scratch on this corpus (no pretrained weights), so their rungs show the route on this data, "
    "not what the pretrained model the real system loads would do."
)


def _p(value) -> str:
    return f"{value:.3g}" if value == value else "–"


def _pct(value) -> str:
    return f"{100 * value:.1f}" if value == value else "–"


def _p_bounded(value, bound) -> str:
    """A p-value, or ``≤ value`` when it is only an upper bound (a Monte-Carlo floor 1/(B+1), or Holm of one)."""
    return f"≤ {_p(value)}" if bool(bound) else _p(value)


def _resamples(row) -> str:
    return f"exact ({row['resamples']})" if bool(row["exact"]) else f"{row['resamples']}"


def conventions(spaceless: list[str]) -> list[str]:
    """The report's conventions, stated with the values the code uses (the README says the same)."""
    floor = 1 / (stats.PERMUTATIONS + 1)
    low, high = calibration.LOG_T_BOUNDS
    words = (
        f" WER counts space-separated words: {', '.join(spaceless)} "
        f"{'is' if len(spaceless) == 1 else 'are'} written without spaces between words, so "
        f"{'its' if len(spaceless) == 1 else 'their'} WER is close to a phrase error rate; read the CER there."
        if spaceless
        else " WER counts space-separated words (a language written without spaces would get a phrase error rate)."
    )
    return [
        "How to read the numbers:",
        "",
        "- **std** is the sample standard deviation (n − 1) over seeds; one seed shows no ±.",
        "- **macro-F1** (a run's metrics) averages per-class F1 over the classes present in that language's labels "
        "or predictions (a class absent from both is not counted as 0).",
        "- **Per language**: exact sign test on per-item differences (McNemar's exact test with one seed each), "
        f"Holm-corrected across the languages of a protocol; intervals: 95% percentile bootstrap, "
        f"{stats.BOOTSTRAP_SAMPLES} resamples.",
        f"- **Pooled zero-shot tests**: sign-flip permutation test clustered by content, exact up to "
        f"{stats.EXACT_UP_TO} contents, else B = {stats.PERMUTATIONS} random sign patterns with p = (1 + hits) / "
        f"(B + 1); when no pattern reached the observed statistic p is printed as `≤ {floor:.2g}` (= 1/(B+1), an "
        "upper bound). Every pooled test that runs (all targets; Latin-script and other-script targets when both "
        "are there) is shown, Holm-corrected across the tests of one E2E/CA pair (`p_holm`).",
        "- **CER / WER** compare texts after NFC, lowercasing, keeping letters, combining marks (a missing accent "
        "is an error) and digits, every other character a word boundary." + words,
        f"- **Calibration**: ECE over {calibration.BINS} equal-width confidence bins (each bin (low, high]); "
        f"temperature fitted on each run's `dev` predictions by NLL over log T in [{low:g}, {high:g}]; a fit "
        "stopped at that bound is named under `temperature` below.",
    ]


def _interval(row) -> str:
    return f"{100 * row['diff']:+.1f} [{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}]"


class Document:
    """Collects the sections of ``report.md`` in order."""

    def __init__(self, root: Path, runs: Runs, warnings: pd.DataFrame):
        predicting = runs.runs[runs.runs["path"] != "recognizer"]
        self.lines = [
            f"# Comparison report: {root}",
            "",
            f"{len(predicting)} runs with predictions, {len(runs.runs) - len(predicting)} recognizer runs, "
            f"{len(runs.skipped)} skipped. Modalities: {', '.join(sorted(set(runs.runs['modality']))) or '–'}.",
            "",
            *conventions(sorted({lang for lang in runs.asr.get("language", []) if written_without_spaces(lang)})),
            "",
            "## Check these runs",
            "",
        ]
        if warnings.empty:
            self.lines.append(
                "Nothing to check: no failed recognizer, no near-chance system, no clock-stopped run, "
                "same languages and seeds everywhere."
            )
        else:
            rows = [[r.check, f"`{r.run_dir}`", r.detail] for r in warnings.itertuples()]
            self.lines.append(tables.markdown(["check", "run directory", "what"], rows))

    def add(self, *lines: str) -> None:
        self.lines += list(lines)

    def by_modality_and_protocol(self, title: str, explanation: str, frame, markdown) -> None:
        """A section: its title, what its tables show, then ``markdown(part)`` per modality and protocol."""
        self.add("", title, "", explanation)
        for (modality, group), part in frame.groupby(["modality", "protocol"], sort=True):
            self.add("", f"### {group} ({modality})", "", markdown(part))

    def split_section(self, split, table, ladder, sig, pooled, unpaired) -> None:
        self.by_modality_and_protocol(
            f"## Accuracy (%) on `{split}`, mean ± std over seeds",
            "`*` marks a training language of a zero-shot table; `avg (targets)` averages the others. "
            "`:gold` columns classify the gold transcript (the cascade's upper bound); `hybrid` combines "
            "E2E and cascade probabilities weighted by confidence (`hybrid-cal`: temperature-scaled first).",
            table,
            tables.table_markdown,
        )
        if not ladder.empty:
            rungs = "gold text → native recognized text → romanized → translated → E2E"
            self.by_modality_and_protocol(
                f"## Headroom ladder on `{split}`: {rungs}",
                "Accuracy (%) per rung; `CER / WER` of the recognizer (ASR for speech, OCR for images) behind "
                "each cascade; chance level last. `ca-translated` is translate-test (recognized text translated "
                "to English, then classified); its `:gold` rung is the gold text translated."
                + (STANDIN_NOTE if ladder["system"].str.contains(STANDIN, regex=False).any() else ""),
                ladder,
                tables.ladder_markdown,
            )
        if not sig.empty:
            self._tests(split, sig, pooled, unpaired)

    def _tests(self, split, sig, pooled, unpaired) -> None:
        self.add("", f"## E2E vs cascade on identical `{split}` items", "")
        self.add(
            "The unit is the item: each system's seeds are combined into the share of seeds that got it right. "
            "Per language: exact sign test of the per-item differences (McNemar's exact test when each system "
            "has one seed), Holm-Bonferroni across the languages of a protocol (`p_holm`); "
            "`E>C` / `C>E`: items where E2E / CA did better; `g`: Cohen's g; diff: E2E − CA in points with a "
            "95% bootstrap interval; agreement: both right / only E2E / only CA / both wrong."
        )
        rows = []
        for r in sig.to_dict("records"):
            agree = f"{r['both_right']:g} / {r['only_e2e']:g} / {r['only_ca']:g} / {r['both_wrong']:g}"
            rows.append(
                [r["protocol"], r["language"], r["e2e"], r["cascade"], r["n"], f"{r['seeds_e2e']}/{r['seeds_ca']}"]
                + [_pct(r["acc_e2e"]), _pct(r["acc_cascade"]), _interval(r), r["e2e_better"], r["ca_better"]]
                + [f"{r['cohens_g']:+.2f}", _p(r["mcnemar_p"]), _p(r["p_holm"]), agree]
            )
        header = ["protocol", "language", "E2E", "CA", "n", "seeds E/C", "E2E %", "CA %", "diff [95% CI]"]
        self.add("", tables.markdown(header + ["E>C", "C>E", "g", "p", "p_holm", "agreement"], rows))
        if not pooled.empty:
            self.add("", "### Pooled over the zero-shot targets", "")
            self.add(
                "Paired sign-flip permutation test on the mean per-item difference; the signs of all "
                "translations of one content flip together, and the bootstrap resamples contents. "
                "`all` pools every target; when the targets mix scripts, the Latin-script targets and the "
                "others follow (romanization can only help the latter). The tests of one pair are "
                "Holm-corrected together (`p_holm`); `resamples`: the sign patterns drawn (B), or all of them "
                "(exact); `≤`: no pattern reached the observed statistic, so p is the floor 1/(B+1)."
            )
            rows = [
                [r["e2e"], r["cascade"], r["target_set"], r["groups"], r["languages"], r["n"], r["contents"]]
                + [_pct(r["acc_e2e"]), _pct(r["acc_cascade"]), _interval(r), f"{r['cohens_dz']:+.2f}"]
                + [_resamples(r), _p_bounded(r["p"], r["p_at_floor"]), _p_bounded(r["p_holm"], r["p_holm_bound"])]
                for r in pooled.to_dict("records")
            ]
            header = ["E2E", "CA", "set", "protocols", "targets", "items", "contents", "E2E %", "CA %", "diff [95% CI]"]
            self.add("", tables.markdown(header + ["d_z", "resamples", "p", "p_holm"], rows))
        if not unpaired.empty:
            self.add("", f"### Unpaired items on `{split}` ({len(unpaired)}, left out of the tests above)", "")
            shown = unpaired.head(UNPAIRED_SHOWN)
            keys = ["protocol", "e2e", "cascade", "group", "id", "language", "system", "reason"]
            keys = [k for k in keys if k in shown]
            self.add(tables.markdown(keys, shown[keys].astype(str).values.tolist()))
            if len(unpaired) > UNPAIRED_SHOWN:
                self.add("", f"… and {len(unpaired) - UNPAIRED_SHOWN} more in `unpaired_{split}.csv`.")

    def calibration_section(self, calib: pd.DataFrame, items: pd.DataFrame) -> None:
        if calib.empty:
            return
        self.add("", "## Calibration", "")
        self.add(
            "Expected calibration error (ECE, %, 15 bins) per system and language on `test`, raw and after "
            "temperature scaling fitted on each run's own `dev` predictions (`T` > 1 softens, < 1 sharpens)."
        )
        raw_only = sorted(items.loc[items["temperature"].isna(), "run_dir"].unique())
        if raw_only:
            self.add(
                "",
                f"No `dev` predictions, so calibration is raw only for {len(raw_only)} run(s): "
                + ", ".join(f"`{r}`" for r in raw_only)
                + ".",
            )
        test = calib[calib["split"] == "test"]
        for modality, part in test.groupby("modality"):
            languages = sorted(part["language"].unique())
            rows = []
            for system, by_system in part.groupby("system"):
                cells = by_system.set_index("language")
                for kind, column in (("raw", "ece_raw"), ("calibrated", "ece_cal")):
                    values = [_pct(cells[column].get(lang, float("nan"))) for lang in languages]
                    t = _p(cells["temperature"].mean()) if kind == "calibrated" else ""
                    rows.append([system, kind, t, _pct(by_system["confidence"].mean()), *values])
            header = ["system", "probabilities", "T", "mean conf. %", *languages]
            self.add("", f"### ECE (%), {modality}", "", tables.markdown(header, rows))

    def figures_section(self, figures: dict) -> None:
        names = [
            name for kind in ("ladder", "protocol_averages", "reliability", "heatmap") for name in figures.get(kind, [])
        ]
        if names:
            self.add("", "## Figures", "", *[f"![{Path(n).stem}]({n})" for n in names])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
