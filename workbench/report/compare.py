"""E2E vs each cascade on identical items: pairing, per-language tests, the pooled zero-shot test, hybrids.

Pairing is on the item table. Within one split, modality and protocol group, each system's
runs (one per seed) are pivoted to one row per item: the share of its seeds that got the
item right. An E2E system and a cascade are compared on the items both have in every one
of their seeds; every other item is listed as unpaired with the reason, never dropped
silently. The statistics and their choice are documented in :mod:`workbench.report.stats`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.languages import resolve
from workbench.report import stats

KEY = ["group", "sources", "id"]  # in_language runs of different sources share a group, not items
ITEM_INFO = ["language", "content_id", "protocol", "is_source"]
AGREEMENT = ["both_right", "only_e2e", "only_ca", "both_wrong"]


def system_shares(part: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """One system's items -> (``share, seeds`` + item info per (group, sources, id), items missing from a run)."""
    shares, missing = [], []
    for (group, sources), rows in part.groupby(["group", "sources"]):
        wide = rows.pivot_table(index="id", columns="run_dir", values="correct", aggfunc="first").astype(float)
        complete = wide.notna().all(axis=1)
        for item_id, run_dir in wide[~complete].isna().stack().loc[lambda s: s].index:
            missing.append({"group": group, "sources": sources, "id": item_id, "reason": f"not predicted by {run_dir}"})
        info = rows.drop_duplicates("id").set_index("id")[ITEM_INFO]
        done = wide[complete]
        frame = pd.DataFrame({"share": done.mean(axis=1), "seeds": wide.shape[1]}).join(info)
        frame["group"], frame["sources"] = group, sources
        shares.append(frame.reset_index())
    empty = pd.DataFrame(columns=[*KEY, "share", "seeds", *ITEM_INFO])
    return (pd.concat(shares, ignore_index=True) if shares else empty), missing


def pair_systems(e2e: pd.DataFrame, cascade: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items of one E2E and one cascade system -> (paired items with ``share_e2e, share_ca, d``, unpaired)."""
    shares_e, missing_e = system_shares(e2e)
    shares_c, missing_c = system_shares(cascade)
    e_name, c_name = e2e["system"].iloc[0], cascade["system"].iloc[0]
    unpaired = [{**m, "system": e_name} for m in missing_e] + [{**m, "system": c_name} for m in missing_c]
    keys_e, keys_c = (set(map(tuple, frame[KEY].drop_duplicates().to_numpy())) for frame in (e2e, cascade))
    for lacking, keys in ((c_name, keys_e - keys_c), (e_name, keys_c - keys_e)):
        unpaired += [dict(zip(KEY, key, strict=True), system=lacking, reason="no prediction") for key in sorted(keys)]
    languages = pd.concat([e2e, cascade]).drop_duplicates(KEY).set_index(KEY)["language"]
    for row in unpaired:
        row["language"] = languages.get((row["group"], row["sources"], row["id"]))
    # inner join of the complete items: an item a system predicted only in some seeds is unpaired (listed above)
    paired = shares_e.merge(shares_c[[*KEY, "share", "seeds"]], on=KEY, suffixes=("_e2e", "_ca"))
    paired = paired.assign(d=paired["share_e2e"] - paired["share_ca"])
    return paired.reset_index(drop=True), pd.DataFrame(unpaired, columns=[*KEY, "language", "system", "reason"])


def agreement(paired: pd.DataFrame) -> dict[str, float]:
    """Both right / only E2E / only CA / both wrong, as expected item counts over seed pairs.

    With one seed each these are the usual counts; with several, an item right in 1 of 2
    E2E seeds and both CA seeds adds 0.5 to *both right* and 0.5 to *only CA*.
    """
    e, c = paired["share_e2e"].astype(float), paired["share_ca"].astype(float)
    return {
        "both_right": round(float((e * c).sum()), 2),
        "only_e2e": round(float((e * (1 - c)).sum()), 2),
        "only_ca": round(float(((1 - e) * c).sum()), 2),
        "both_wrong": round(float(((1 - e) * (1 - c)).sum()), 2),
    }


def language_tests(paired: pd.DataFrame, base: dict) -> list[dict]:
    """Per (group, language): the sign test (McNemar with one seed), bootstrap interval, effect sizes.

    Holm-Bonferroni runs across the languages of each group of this comparison.
    """
    rows = []
    for (group, language), part in paired.groupby(["group", "language"]):
        better_e, better_c, p = stats.sign_test(part["d"])
        low, high = stats.bootstrap_interval(part["d"])
        rows.append(
            {
                **base,
                "protocol": group,
                "language": language,
                "n": len(part),
                "seeds_e2e": int(part["seeds_e2e"].iloc[0]),
                "seeds_ca": int(part["seeds_ca"].iloc[0]),
                "acc_e2e": round(float(part["share_e2e"].mean()), 4),
                "acc_cascade": round(float(part["share_ca"].mean()), 4),
                "diff": round(float(part["d"].mean()), 4),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
                "e2e_better": better_e,
                "ca_better": better_c,
                "cohens_g": round(stats.cohens_g(better_e, better_c), 4),
                "mcnemar_p": float(f"{p:.4g}"),
                **agreement(part),
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["p_holm"] = frame.groupby("protocol")["mcnemar_p"].transform(lambda s: stats.holm(s.tolist()))
        frame["p_holm"] = frame["p_holm"].map(lambda p: float(f"{p:.4g}"))
    return rows if frame.empty else frame.to_dict("records")


def target_sets(targets: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """All zero-shot targets, then (when they are a proper part of them) the Latin-script targets and
    the targets in other scripts: romanization is expected to help transfer to the latter only."""
    latin = targets["language"].map(lambda code: resolve(code).script == "Latn")
    sets = [("all", targets)]
    if latin.any() and not latin.all():
        sets += [("Latin script", targets[latin]), ("other scripts", targets[~latin])]
    return sets


def pooled_test(paired: pd.DataFrame, base: dict) -> list[dict]:
    """A test pooled over every zero-shot target item (sources left out), clustered by content; then the
    same over the Latin-script and the other-script targets when both are there. The tests of this
    comparison are Holm-corrected together (``p_holm``): up to three looks at one pair of systems."""
    targets = paired[(paired["protocol"] == "zero_shot") & ~paired["is_source"].astype(bool)]
    rows = [pooled_row(part, base, name) for name, part in target_sets(targets) if not part.empty]
    adjusted = stats.holm_bounded([r["p"] for r in rows], [r["p_at_floor"] for r in rows])
    for row, (p_holm, bound) in zip(rows, adjusted, strict=True):
        row["p_holm"], row["p_holm_bound"] = float(f"{p_holm:.4g}"), bound
    return rows


def pooled_row(targets: pd.DataFrame, base: dict, name: str) -> dict:
    d = targets["d"].to_numpy(float)
    better_e, better_c, _ = stats.sign_test(d)
    low, high = stats.bootstrap_interval(d, targets["content_id"])
    test = stats.permutation(d, targets["content_id"])
    return {
        **base,
        "target_set": name,
        "groups": " ".join(sorted(targets["group"].unique())),
        "languages": " ".join(sorted(targets["language"].unique())),
        "n": len(targets),
        "contents": targets["content_id"].nunique(),
        "acc_e2e": round(float(targets["share_e2e"].mean()), 4),
        "acc_cascade": round(float(targets["share_ca"].mean()), 4),
        "diff": round(float(d.mean()), 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "e2e_better": better_e,
        "ca_better": better_c,
        "cohens_dz": round(stats.cohens_dz(d), 4),
        "p": float(f"{test.p:.4g}"),
        "resamples": test.resamples,
        "exact": test.exact,
        "p_at_floor": test.at_floor,  # no resample reached the observed statistic: p <= 1/(resamples + 1)
    }


def comparisons(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every E2E system vs every cascade of the same split and modality.

    Returns (per-language tests, pooled zero-shot tests, unpaired items).
    """
    per_language, pooled, unpaired = [], [], []
    evaluated = items[~items["split"].isin(["dev", "train"])]
    for (split, modality), part in evaluated.groupby(["split", "modality"]):
        for e_name, e2e in part[part["path"] == "e2e"].groupby("system"):
            for c_name, cascade in part[part["path"] == "cascade"].groupby("system"):
                shared = set(e2e["group"]) & set(cascade["group"])
                if not shared:
                    continue
                base = {"split": split, "modality": modality, "e2e": e_name, "cascade": c_name}
                paired, lost = pair_systems(e2e[e2e["group"].isin(shared)], cascade[cascade["group"].isin(shared)])
                per_language += language_tests(paired, base)
                pooled += pooled_test(paired, base)
                if not lost.empty:
                    unpaired += [{**base, **row} for row in lost.to_dict("records")]
    return pd.DataFrame(per_language), pd.DataFrame(pooled), pd.DataFrame(unpaired)


def hybrid_scores(items: pd.DataFrame) -> pd.DataFrame:
    """Per-seed, per-language accuracy of ``hybrid:E+C`` (raw probabilities) and ``hybrid-cal:E+C``
    (temperature-scaled), pairing an E2E and a cascade run of the same group and seed."""
    rows = []
    evaluated = items[~items["split"].isin(["dev", "train"])]
    keys = ["split", "modality", "group", "seed"]
    for _, part in evaluated.groupby(keys):
        for e_run, e2e in part[part["path"] == "e2e"].groupby("run_dir"):
            for c_run, cascade in part[part["path"] == "cascade"].groupby("run_dir"):
                both = e2e.merge(cascade[["id", "probs", "probs_cal"]], on="id", suffixes=("", "_ca"))
                both = both[both["probs"].map(len) == both["probs_ca"].map(len)]
                if both.empty:
                    continue
                names = f"{e2e['system'].iloc[0]}+{cascade['system'].iloc[0]}"
                variants = [("hybrid", "probs")]
                if both["probs_cal"].notna().all() and both["probs_cal_ca"].notna().all():
                    variants.append(("hybrid-cal", "probs_cal"))
                for prefix, column in variants:
                    mixed = [
                        stats.confidence_weighted(a, b) for a, b in zip(both[column], both[column + "_ca"], strict=True)
                    ]
                    correct = np.argmax(np.asarray(mixed), axis=1) == both["label"].to_numpy()
                    scored = both.assign(correct=correct, system=f"{prefix}:{names}", path="hybrid")
                    scored["run_dir"] = f"{e_run} + {c_run}"
                    rows.append(scored)
    if not rows:
        return items.iloc[0:0]
    return pd.concat(rows, ignore_index=True).drop(columns=["probs_ca", "probs_cal_ca"])
