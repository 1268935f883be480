""" "Check these runs": the reasons a comparison may not mean what its numbers say, each naming a run.

Every check is a query of the report's tables and returns rows ``check, run_dir, detail``:

- ``recognizer``: a recognizer's CER >= 0.8 in a language (it barely transcribes: the
  cascade behind it measures the recognizer, not the text classifier), or a cascade whose
  transcripts are empty for at least half of a language's items;
- ``near chance``: a system at or below chance + 5 points on its own training language
  (it did not learn; a comparison with it says nothing);
- ``stopped``: a run stopped by ``max_time`` (the clock, not convergence, decided it) or
  interrupted;
- ``budget``: a run whose step or epoch budget ran out while it was still improving on dev
  (its last dev check was its best) or before any dev check (e.g. ``--trainer.max_steps=5``):
  it had not converged, so it may lose for want of training;
- ``language sets``: systems of one table averaged over different languages;
- ``seeds``: a system with fewer seeds than the others of its table;
- ``duplicate``: two runs of one system, protocol and seed (both would count as seeds);
- ``not read``: a ``metrics.json`` the report could not use (no run record, unreadable);
- ``tuning``: a system tuned with fewer trials than another of its table, or not tuned while
  another was (``python -m workbench.tune`` gives every system the same budget).
- ``temperature``: a run whose temperature fit on dev stopped at its search bound (its
  calibrated probabilities, and the calibrated hybrid, rest on a fit that did not converge).
"""

from __future__ import annotations

import math

import pandas as pd

CER_LIMIT = 0.8
EMPTY_LIMIT = 0.5
CHANCE_MARGIN = 0.05
COLUMNS = ["check", "run_dir", "detail"]


def recognizers(asr: pd.DataFrame, items: pd.DataFrame | None) -> list[dict]:
    """One row per run and split, listing the languages where its recognizer failed."""
    rows = []
    failed = asr[asr["cer"] >= CER_LIMIT]
    for (run_dir, split), part in failed.groupby(["run_dir", "split"]):
        languages = ", ".join(f"{r.language} {r.cer:.2f}" for r in part.sort_values("language").itertuples())
        detail = f"recognizer CER >= {CER_LIMIT} in {languages} ({split})"
        rows.append({"check": "recognizer", "run_dir": run_dir, "detail": detail})
    if items is None:
        return rows
    # a transcript of None means the run did not record one; "" means the recognizer wrote nothing
    cascades = items[
        (items["path"] == "cascade") & ~items["split"].isin(["dev", "train"]) & items["transcript"].notna()
    ]
    if not cascades.empty:
        empty = cascades["transcript"].astype(str).str.strip() == ""
        shares = empty.groupby([cascades["run_dir"], cascades["split"], cascades["language"]]).mean()
        shares = shares[shares >= EMPTY_LIMIT].reset_index(name="share")
        for (run_dir, split), part in shares.groupby(["run_dir", "split"]):
            languages = ", ".join(f"{100 * r.share:.0f}% of {r.language}" for r in part.itertuples())
            detail = f"the recognizer wrote nothing for {languages} ({split})"
            rows.append({"check": "recognizer", "run_dir": run_dir, "detail": detail})
    return rows


def near_chance(scores: pd.DataFrame) -> list[dict]:
    own = scores[(scores["split"] == "test") & scores["path"].isin(["e2e", "cascade"])]
    trained = own["is_source"] | ((own["sources"] == "") & (own["protocol"] != "zero_shot"))
    rows = []
    for r in own[trained].itertuples():
        chance = 1 / r.n_classes
        if r.accuracy <= chance + CHANCE_MARGIN:
            detail = (
                f"{r.system} at {100 * r.accuracy:.1f}% on its training language {r.language} "
                f"(chance {100 * chance:.1f}%)"
            )
            rows.append({"check": "near chance", "run_dir": r.run_dir, "detail": detail})
    return rows


def stopped(runs: pd.DataFrame) -> list[dict]:
    rows = []
    for r in runs[runs["stopped_by"].isin(["max_time", "interrupted"])].itertuples():
        why = "the clock (max_time)" if r.stopped_by == "max_time" else "an interruption"
        detail = f"{r.system} stopped by {why} after {r.steps} steps, {r.epochs} epochs"
        rows.append({"check": "stopped", "run_dir": r.run_dir, "detail": detail})
    return rows


def budget(runs: pd.DataFrame) -> list[dict]:
    rows = []
    for r in runs[runs["stopped_by"].isin(["max_steps", "max_epochs"])].itertuples():
        if pd.isna(r.best_dev):
            why = "before any dev check"
        elif r.checks_since_best == 0:
            why = "while still improving on dev (its last check was its best)"
        else:
            continue
        detail = f"{r.system} ran out of its budget ({r.stopped_by}, {r.steps} steps) {why}: not converged"
        rows.append({"check": "budget", "run_dir": r.run_dir, "detail": detail})
    return rows


def language_sets(scores: pd.DataFrame) -> list[dict]:
    """Systems of one table over different languages (a system's languages: all its runs together)."""
    rows = []
    systems = scores[scores["path"].isin(["e2e", "cascade"])]
    for (split, _modality, group), part in systems.groupby(["split", "modality", "group"]):
        every = set(part["language"])
        for system, runs in part.groupby("system"):
            missing = every - set(runs["language"])
            for run_dir in sorted(set(runs["run_dir"])) if missing else []:
                detail = (
                    f"{system} in {group} ({split}) has no {', '.join(sorted(missing))}: "
                    "its average covers fewer languages than the others"
                )
                rows.append({"check": "language sets", "run_dir": run_dir, "detail": detail})
    return rows


def seeds(scores: pd.DataFrame) -> list[dict]:
    """Systems with fewer seeds than the most-seeded system of the table, per language."""
    rows = []
    systems = scores[scores["path"].isin(["e2e", "cascade"]) & (scores["split"] == scores["split"].min())]
    for (_modality, group), part in systems.groupby(["modality", "group"]):
        counts = part.groupby(["language", "system"])["seed"].nunique().unstack(fill_value=0)
        most = counts.max(axis=1)
        for system in counts.columns:
            short = counts.index[(counts[system] > 0) & (counts[system] < most)]
            if len(short):
                detail = (
                    f"{system} in {group} has {counts.loc[short, system].min()} seed(s) for "
                    f"{', '.join(short)}, others {most[short].max()}"
                )
                for run_dir in sorted(set(part.loc[part["system"] == system, "run_dir"])):
                    rows.append({"check": "seeds", "run_dir": run_dir, "detail": detail})
    return rows


def duplicates(runs: pd.DataFrame) -> list[dict]:
    rows = []
    # per modality: a speech and an image system may share a name (ca-romanized) without being one system
    keys = ["modality", "system", "protocol", "sources", "seed"]
    for (_modality, system, protocol, sources, seed), dup in runs.groupby(keys):
        for run_dir in dup["run_dir"] if len(dup) > 1 else []:
            where = f"{protocol} from {sources}" if sources else protocol
            detail = f"{system} {where} seed {seed} is in {len(dup)} run directories: each counts as a seed"
            rows.append({"check": "duplicate", "run_dir": run_dir, "detail": detail})
    return rows


def temperature_bounds(items: pd.DataFrame) -> list[dict]:
    """Runs whose temperature, fitted on their dev predictions, stopped at its search bound."""
    from workbench.report import calibration

    if items.empty:
        return []
    low, high = (math.exp(b) for b in calibration.LOG_T_BOUNDS)
    systems = items.drop_duplicates("run_dir").set_index("run_dir")["system"]
    rows = []
    for run_dir, t in calibration.bound_fits(items).items():
        detail = (
            f"{systems[run_dir]}: temperature T = {t:.3g} fitted on dev stopped at its search bound "
            f"(T in [{low:.3g}, {high:.3g}]; e.g. dev all right): calibrated probabilities and hybrid-cal "
            "rest on an unconverged fit"
        )
        rows.append({"check": "temperature", "run_dir": run_dir, "detail": detail})
    return rows


def check_runs(runs, scores: pd.DataFrame | None) -> pd.DataFrame:
    """Every warning for :class:`workbench.report.frame.Runs` and its per-language ``scores``."""
    rows = [{"check": "not read", "run_dir": path, "detail": reason} for path, reason in runs.skipped]
    rows += recognizers(runs.asr, runs.items) if not runs.items.empty else recognizers(runs.asr, None)
    rows += stopped(runs.runs)
    rows += budget(runs.runs)
    rows += duplicates(runs.runs)
    rows += tuning(runs.runs)
    rows += temperature_bounds(runs.items)
    if scores is not None and not scores.empty:
        rows += near_chance(scores)
        rows += language_sets(scores)
        rows += seeds(scores)
    return pd.DataFrame(rows, columns=COLUMNS)


def tuning(runs: pd.DataFrame) -> list[dict]:
    """``tuning``: where any system of a table was tuned, a system tuned with fewer trials than the
    most-tuned one, or not tuned at all (its hand-set settings compete with searched ones)."""
    rows = []
    systems = runs[runs["path"] != "recognizer"]
    for (_modality, group), part in systems.groupby(["modality", "group"]):
        most = part["tuning_trials"].max()
        if most != most:  # nothing tuned here: an equal (zero) budget
            continue
        for r in part.itertuples():
            if r.tuning_trials != r.tuning_trials:
                detail = f"{r.system} in {group} was not tuned; others had {int(most)} trials: unequal budgets"
            elif r.tuning_trials < most:
                detail = f"{r.system} in {group} was tuned with {int(r.tuning_trials)} trials, others {int(most)}"
            else:
                continue
            rows.append({"check": "tuning", "run_dir": r.run_dir, "detail": detail})
    return rows
