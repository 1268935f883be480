"""Tables as group-bys of the item table: per-run language scores, SpeechTaxi tables, the ladder.

``scores`` has one row per (run, split, language): accuracy and n, from the items (E2E,
cascade and hybrid "runs") plus the gold-text upper bound from the cascade's
``metrics.json``. Every table below is a pivot of it, mean ± std over seeds.
"""

from __future__ import annotations

import pandas as pd

from workbench.report.frame import Runs

AVERAGE = "avg"
TARGET_AVERAGE = "avg (targets)"
PATH_RANK = {"e2e": 0, "cascade": 1, "hybrid": 2, "gold": 3}
# the ladder climbs from native to romanized text, then to text translated to English (translate-test)
TEXT_RANK = {"native": 0, "romanized": 1, "translated": 2}
SCORE_KEYS = ["split", "modality", "group", "protocol", "sources", "system", "path", "run_dir", "seed", "n_classes"]


def scores(runs: Runs, items: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, split, language): ``accuracy, n, is_source`` + the run's keys."""
    evaluated = items[~items["split"].isin(["dev", "train"])]
    frame = (
        evaluated.groupby([*SCORE_KEYS, "language"], dropna=False)
        .agg(accuracy=("correct", "mean"), n=("correct", "size"), is_source=("is_source", "first"))
        .reset_index()
    )
    gold = runs.gold.merge(runs.runs.drop(columns=["system", "path"]), on="run_dir")
    if not gold.empty:
        gold = gold.assign(system=gold["system"] + ":gold", path="gold")
        sources = gold["sources"].str.split("+")
        gold["is_source"] = [lang in s for lang, s in zip(gold["language"], sources, strict=True)]
        in_language = gold["protocol"] == "in_language"
        gold = gold[~in_language | gold["is_source"]]  # as for the items: its own language only
        frame = pd.concat([frame, gold[[*SCORE_KEYS, "language", "accuracy", "n", "is_source"]]], ignore_index=True)
    frame["is_source"] = frame["is_source"].astype(bool)
    return frame


def system_order(frame: pd.DataFrame) -> list[str]:
    """E2E first, then cascades, hybrids (raw before calibrated) and the gold-text upper bounds."""
    paths = frame.drop_duplicates("system").set_index("system")["path"]
    return sorted(paths.index, key=lambda s: (PATH_RANK.get(paths[s], 9), s.startswith("hybrid-cal:"), s))


def run_averages(frame: pd.DataFrame) -> pd.DataFrame:
    """Per system and seed of a table: the average over its languages (``avg``) and, for
    zero-shot, over its targets. In-language tables hold one run per language and seed, so
    the seed (not the run) is the unit whose spread the table shows."""
    keys = ["split", "modality", "group", "protocol", "system", "path", "seed"]
    rows = frame.groupby(keys, dropna=False)["accuracy"].mean().rename(AVERAGE).reset_index()
    targets = frame[(frame["protocol"] == "zero_shot") & ~frame["is_source"]]
    target_avg = targets.groupby(keys, dropna=False)["accuracy"].mean().rename(TARGET_AVERAGE).reset_index()
    return rows.merge(target_avg, on=keys, how="left")


def _mean_std(values: pd.Series) -> tuple[float, float, int]:
    values = values.dropna()
    if values.empty:
        return float("nan"), float("nan"), 0
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0, len(values)


def speechtaxi_tables(frame: pd.DataFrame) -> pd.DataFrame:
    """Long table: split, modality, protocol, language (``*`` = a source), system, mean, std, seeds."""
    rows = []
    averages = run_averages(frame)
    for (split, modality, group), part in frame.groupby(["split", "modality", "group"]):
        sources = set(part["sources"].iloc[0].split("+")) - {""} if part["protocol"].iloc[0] != "in_language" else set()
        avg = averages[(averages["split"] == split) & (averages["modality"] == modality) & (averages["group"] == group)]
        for system in system_order(part):
            by_system = part[part["system"] == system]
            path = by_system["path"].iloc[0]
            cells = [(lang, values["accuracy"]) for lang, values in by_system.groupby("language")]
            cells.append((AVERAGE, avg.loc[avg["system"] == system, AVERAGE]))
            if part["protocol"].iloc[0] == "zero_shot":
                cells.append((TARGET_AVERAGE, avg.loc[avg["system"] == system, TARGET_AVERAGE]))
            for language, values in cells:
                mean, std, n = _mean_std(values)
                rows.append(
                    {
                        "split": split,
                        "modality": modality,
                        "protocol": group,
                        "language": f"{language}*" if language in sources else language,
                        "system": system,
                        "path": path,
                        "accuracy_mean": round(mean, 4) if n else None,
                        "accuracy_std": round(std, 4) if n else None,
                        "seeds": n,
                        "upper_bound": path == "gold",
                    }
                )
    return pd.DataFrame(rows)


def fmt(mean, std, seeds) -> str:
    """``92.5 ± 3.5`` (percent; no ± for one seed; ``–`` when missing)."""
    if not seeds or mean != mean or mean is None:
        return "–"
    return f"{100 * mean:.1f}" if seeds == 1 else f"{100 * mean:.1f} ± {100 * std:.1f}"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def table_markdown(table: pd.DataFrame) -> str:
    """One protocol group's long rows -> a languages x systems markdown table."""
    systems = list(dict.fromkeys(table["system"]))
    languages = list(dict.fromkeys(table["language"]))
    cell = {(r.language, r.system): fmt(r.accuracy_mean, r.accuracy_std, r.seeds) for r in table.itertuples()}
    return markdown(
        ["language", *systems], [[lang] + [cell.get((lang, s), "–") for s in systems] for lang in languages]
    )


def _rung_order(frame: pd.DataFrame, text_of: dict[str, str]) -> list[tuple[str, str]]:
    """(system, path) rungs: gold texts, then cascades on ASR text (native before romanized), then E2E."""
    present = frame.drop_duplicates("system").set_index("system")["path"].to_dict()
    cascades = sorted(
        (s for s, p in present.items() if p == "cascade"), key=lambda s: (TEXT_RANK.get(text_of.get(s), 2), s)
    )
    rungs = [(f"{c}:gold", "gold") for c in cascades if f"{c}:gold" in present]
    rungs += [(c, "cascade") for c in cascades]
    return rungs + [(s, "e2e") for s in sorted(s for s, p in present.items() if p == "e2e")]


def ladder(frame: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """Per split, modality, protocol group and language: the headroom ladder, one row per rung.

    Rungs: gold text (native, romanized, translated) -> native ASR text -> romanized ASR text
    -> translated ASR text (translate-test) -> E2E, with the recognizer's
    CER/WER (mean over the cascade's runs) beside each cascade rung and the chance level.
    Only groups that have a cascade get a ladder.
    """
    # the cascade's input text by modality and system: a speech and an image cascade may share a name
    texts = runs.runs.drop_duplicates(["modality", "system"])
    asr = runs.asr.merge(runs.runs[["run_dir", "group", "modality"]], on="run_dir")
    rows = []
    for (split, modality, group), part in frame.groupby(["split", "modality", "group"]):
        if not (part["path"] == "cascade").any():
            continue
        text_of = texts[texts["modality"] == modality].set_index("system")["text"].to_dict()
        chance = 1 / part["n_classes"].max()
        for language, at in part.groupby("language"):
            for rung, (system, path) in enumerate(_rung_order(part, text_of)):
                values = at.loc[at["system"] == system, "accuracy"]
                error = asr[
                    (asr["system"] == system)
                    & (asr["modality"] == modality)
                    & (asr["split"] == split)
                    & (asr["group"] == group)
                    & (asr["language"] == language)
                ]
                rows.append(
                    {
                        "split": split,
                        "modality": modality,
                        "protocol": group,
                        "language": language,
                        "rung": rung,
                        "system": system,
                        "path": path,
                        "accuracy": round(float(values.mean()), 4) if len(values) else None,
                        "seeds": len(values),
                        "cer": round(float(error["cer"].mean()), 4) if path == "cascade" and len(error) else None,
                        "wer": round(float(error["wer"].mean()), 4) if path == "cascade" and len(error) else None,
                        "chance": round(chance, 4),
                    }
                )
    return pd.DataFrame(rows)


def ladder_markdown(table: pd.DataFrame) -> str:
    """One group's ladder rows -> languages x rungs, with ``CER / WER`` after each cascade rung."""
    rungs = table.drop_duplicates("system").sort_values("rung")
    header = ["language"]
    for rung in rungs.itertuples():
        header += [rung.system] + (["CER / WER"] if rung.path == "cascade" else [])
    header.append("chance")
    rows = []
    for language, part in table.groupby("language", sort=True):
        row = [language]
        for rung in part.sort_values("rung").itertuples():
            row.append("–" if rung.accuracy is None or rung.accuracy != rung.accuracy else f"{100 * rung.accuracy:.1f}")
            if rung.path == "cascade":
                row.append("–" if rung.cer is None or rung.cer != rung.cer else f"{rung.cer:.2f} / {rung.wer:.2f}")
        rows.append(row + [f"{100 * part['chance'].iloc[0]:.1f}"])
    return markdown(header, rows)


def protocol_averages(frame: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Per modality, protocol name and system: mean ± std over runs of the language average
    (zero-shot: over the targets only)."""
    averages = run_averages(frame[frame["split"] == split])
    value = averages[TARGET_AVERAGE].fillna(averages[AVERAGE])
    averages = averages.assign(value=value)
    out = averages.groupby(["modality", "protocol", "system", "path"])["value"].agg(["mean", "std", "count"])
    return out.fillna({"std": 0.0}).reset_index()


UNTUNED = "untuned"  # a run whose settings were set by hand (its record's tuning is None)


def tuning_budget(runs: pd.DataFrame) -> pd.DataFrame:
    """Per modality, protocol group and system: how its settings were chosen.

    Columns ``modality, group, system, trials`` (Optuna trials of ``python -m workbench.tune``;
    the fewest over the system's runs, NaN when any run is untuned), ``search_space`` (the keys
    searched) and ``runs``. Recognizers are set-up steps, not compared systems: left out.
    """
    columns = ["modality", "group", "system", "trials", "search_space", "runs"]
    systems = runs[runs["path"] != "recognizer"] if not runs.empty else runs
    rows = []
    for (modality, group, system), part in systems.groupby(["modality", "group", "system"]):
        trials = part["tuning_trials"]
        rows.append(
            {
                "modality": modality,
                "group": group,
                "system": system,
                "trials": float("nan") if trials.isna().any() else int(trials.min()),
                "search_space": "; ".join(sorted({s for s in part["tuning_space"] if s})),
                "runs": len(part),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def tuning_markdown(budget: pd.DataFrame) -> str:
    """The tuning budget as a markdown table, one row per system and protocol group."""
    rows = [
        [
            r.group,
            r.modality,
            r.system,
            UNTUNED if r.trials != r.trials else int(r.trials),
            r.search_space or "–",
            r.runs,
        ]
        for r in budget.itertuples()
    ]
    return markdown(["protocol", "modality", "system", "trials", "search space", "runs"], rows)
