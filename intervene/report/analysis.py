"""Which interventions go with better outcomes: the figures behind `intervene report`.

    result = analyse(records)            # section-6 records, already filtered
    json.dumps(result)                   # report.json

**Outcome.** A call is *won* when its outcome is `won`; `lost`, `follow-up` and
`no-decision` count as not won (a follow-up is not a sale yet); `unknown`
outcomes are left out of every outcome figure (they still count for dismiss
rates and scores).

**The comparison (one entry of `effects`).** The unit is a call in which a
category (or one trigger of it) fired. The call is *used* when the rep used or
edited at least one such card, *not used* otherwise (every card dismissed or
ignored; `dismissed` counts the not-used calls with at least one dismissal).
Reps close at different rates and act on cards at different rates, and the
two go together, so a pooled comparison mixes "good rep" with "used the card".
Each rep is therefore compared with themself: the calls are stratified by rep
and

- the test is Cochran-Mantel-Haenszel (statsmodels `StratifiedTable`,
  `test_null_odds` with continuity correction): is the common odds ratio of
  winning, used vs not used, within reps, different from 1? -> `p_value`;
- the pooled (Mantel-Haenszel) odds ratio and its 95 % CI -> `odds_ratio`,
  `odds_ratio_ci95`;
- `difference` is the Mantel-Haenszel risk difference: each rep's own win-rate
  difference (used minus not used), averaged with weights n_used*n_not/n per
  rep, i.e. in percentage points for a typical rep. Its `ci95` is a percentile
  bootstrap (2000 resamples, seeded) that resamples calls within each rep and
  arm, so the rep structure is kept;
- `win_rate_used` / `win_rate_not_used` are the raw (pooled, unadjusted) rates,
  and `unadjusted_difference` their difference, shown so the effect of the
  adjustment is visible;
- many categories and triggers are tested at once, so the p-values are
  corrected with Holm's method (statsmodels `multipletests`), which keeps the
  chance of even one false "significant" at alpha across the whole report;
  `p_adjusted` is the corrected p and `significant` is `p_adjusted < alpha`.
  `p_value` stays the uncorrected one.

Only reps who have both used and not-used calls in a group carry information
(a rep with only one arm cannot be compared with themself); an entry needs
`min_calls` calls with a known outcome, and at least `min_group` in each arm,
among those reps. Below that, every figure is null and `note` says
"not enough calls". Categories are always listed; triggers get their own
entry when their category has more than one trigger and the trigger itself
fired in `min_calls` calls with a known outcome.

Descriptive figures (not adjusted, not tested): win rates with Wilson 95 %
intervals (statsmodels `proportion_confint`) per category and arm, per mode
and per profile; dismiss rates per trigger (cards dismissed / cards shown);
mean score per rep per week and each rep's linear trend (scipy `linregress`).
A group smaller than `min_group` shows "not enough calls" instead of a rate.
"""
from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Optional

import numpy as np

if TYPE_CHECKING:   # pandas, SciPy and statsmodels load on first use (a second of start-up for every command)
    import pandas as pd

from intervene.report.score import score_call
from intervene.vocab import ACTED, Category

NOT_ENOUGH = "not enough calls"
CORRECTION = "holm"
BOOTSTRAP_RESAMPLES = 2000
CATEGORY_ORDER = tuple(c.value for c in Category)


def analyse(records: Iterable[dict], min_calls: int = 30, alpha: float = 0.05,
            min_group: Optional[int] = None, seed: int = 0) -> dict:
    """The report's figures (report.json) from section-6 records (see the module docstring).

    `min_calls`: calls with a known outcome an effect needs; `min_group`
    (default max(5, min_calls // 3)): calls each arm of a comparison, and each
    descriptive rate, needs. `seed` fixes the bootstrap, so the same records
    always give the same report."""
    from statsmodels.stats.multitest import multipletests
    records = list(records)
    min_group = max(5, min_calls // 3) if min_group is None else int(min_group)
    calls = _calls_frame(records)
    cards = _cards_frame(records)
    known = calls[calls["won"].notna()]
    rng = np.random.default_rng(seed)

    effects = []
    for cat, trig in _groups(cards, known, min_calls):
        units = _units(cards, known, cat, trig)
        effects.append(_effect(cat, trig, units, min_calls, min_group, rng))
    tested = [e for e in effects if e["p_value"] is not None]
    if tested:
        _, p_adj, _, _ = multipletests([e["p_value"] for e in tested], alpha=alpha, method=CORRECTION)
        for e, p in zip(tested, p_adj):
            e["p_adjusted"] = _num(p)
            e["significant"] = bool(p < alpha)

    result = {
        "settings": {"min_calls": min_calls, "min_group": min_group, "alpha": alpha,
                     "correction": CORRECTION, "bootstrap_resamples": BOOTSTRAP_RESAMPLES, "seed": seed},
        "counts": _counts(records, calls, cards),
        "effects": effects,
        "findings": [_finding(e) for e in effects if e["significant"]],
        "rates": {
            "by_category": _category_rates(cards, known, min_group),
            "by_mode": _rates(known, "mode", min_group),
            "by_profile": _rates(known, "profile", min_group),
        },
        "dismiss_by_trigger": _dismiss_rates(cards, min_group),
        "score_trends": _score_trends(calls, min_group),
        "method": METHOD,
    }
    result["caveats"] = _caveats(result)
    return result


METHOD = {
    "outcome": "won = outcome 'won'; 'lost', 'follow-up' and 'no-decision' are not won; 'unknown' is left out.",
    "unit": "a call in which the category (or trigger) fired; 'used' = the rep used or edited at least one "
            "such card, 'not used' = every such card dismissed or ignored.",
    "test": "Cochran-Mantel-Haenszel test stratified by rep (statsmodels StratifiedTable.test_null_odds, "
            "continuity-corrected): each rep is compared with themself.",
    "difference": "Mantel-Haenszel risk difference: each rep's win rate used minus not used, weighted by "
                  "n_used*n_not/n; 95% CI by percentile bootstrap resampling calls within rep and arm "
                  "(2000 resamples, seeded).",
    "odds_ratio": "Mantel-Haenszel pooled odds ratio with its 95% CI (statsmodels).",
    "multiple_testing": "Holm correction across every tested category and trigger (statsmodels multipletests); "
                        "significant = corrected p below alpha.",
    "rates": "raw win and dismiss rates with Wilson 95% intervals (statsmodels proportion_confint); not adjusted.",
}


# ---------------------------------------------------------------- the frames

def _calls_frame(records: list[dict]) -> pd.DataFrame:
    import pandas as pd
    rows = []
    for i, r in enumerate(records):
        outcome = r.get("outcome", "unknown")
        score = r.get("score") if isinstance(r.get("score"), dict) and "total" in r["score"] else None
        if score is None:
            score = score_call(r.get("transcript") or [], r.get("interventions") or [], outcome,
                               float(r.get("duration_s") or 0.0))
        rows.append({"i": i, "call_id": r.get("call_id"), "rep": r.get("rep") or "(none)",
                     "team": r.get("team"), "profile": r.get("profile") or "(none)",
                     "mode": r.get("mode") or "(none)", "started": _when(r.get("started")),
                     "outcome": outcome,
                     "won": None if outcome == "unknown" else float(outcome == "won"),
                     "score": float(score["total"])})
    df = pd.DataFrame(rows, columns=["i", "call_id", "rep", "team", "profile", "mode", "started", "outcome",
                                     "won", "score"])
    df["won"] = pd.to_numeric(df["won"])
    return df


def _cards_frame(records: list[dict]) -> pd.DataFrame:
    import pandas as pd
    rows = [{"i": i, "category": str(iv.get("category")), "trigger": str(iv.get("trigger")),
             "feedback": iv.get("feedback") or "none"}
            for i, r in enumerate(records) for iv in (r.get("interventions") or [])]
    return pd.DataFrame(rows, columns=["i", "category", "trigger", "feedback"])


def _groups(cards: pd.DataFrame, known: pd.DataFrame, min_calls: int) -> list[tuple[str, Optional[str]]]:
    """Every category seen (in the usual order), then its triggers where they are worth a test of their own."""
    seen = set(cards["category"])
    cats = [c for c in CATEGORY_ORDER if c in seen] + sorted(seen - set(CATEGORY_ORDER))
    out: list[tuple[str, Optional[str]]] = []
    known_ids = set(known["i"])
    for cat in cats:
        out.append((cat, None))
        sub = cards[cards["category"] == cat]
        triggers = sorted(set(sub["trigger"]))
        if len(triggers) < 2:
            continue
        for trig in triggers:
            calls_with = set(sub.loc[sub["trigger"] == trig, "i"]) & known_ids
            if len(calls_with) >= min_calls:
                out.append((cat, trig))
    return out


def _units(cards: pd.DataFrame, known: pd.DataFrame, cat: str, trig: Optional[str]) -> pd.DataFrame:
    """One row per call with a known outcome in which the group fired: rep, won, used, dismissed."""
    import pandas as pd
    sub = cards[cards["category"] == cat]
    if trig is not None:
        sub = sub[sub["trigger"] == trig]
    flags = pd.DataFrame({"i": sub["i"], "used": sub["feedback"].isin(ACTED),
                          "dismissed": sub["feedback"] == "dismissed"})
    per_call = flags.groupby("i")[["used", "dismissed"]].any()
    units = known.merge(per_call, left_on="i", right_index=True, how="inner")
    units["dismissed"] = units["dismissed"] & ~units["used"]
    return units[["i", "rep", "won", "used", "dismissed"]]


# ---------------------------------------------------------------- one effect

def _effect(cat: str, trig: Optional[str], units: pd.DataFrame, min_calls: int, min_group: int,
            rng: np.random.Generator) -> dict:
    from statsmodels.stats.contingency_tables import StratifiedTable
    used = units[units["used"]]
    not_used = units[~units["used"]]
    entry: dict[str, Any] = {
        "category": cat, "trigger": trig, "calls": int(len(units)), "used": int(len(used)),
        "dismissed": int(units["dismissed"].sum()), "not_used": int(len(not_used)),
        "reps": int(units["rep"].nunique()), "reps_compared": 0,
        "win_rate_used": None, "win_rate_not_used": None, "unadjusted_difference": None,
        "difference": None, "ci95": None, "odds_ratio": None, "odds_ratio_ci95": None,
        "p_value": None, "p_adjusted": None, "significant": False, "note": None,
    }
    # Only reps with both arms can be compared with themselves.
    arms = units.groupby("rep")["used"].agg(["sum", "count"])
    both = arms[(arms["sum"] > 0) & (arms["sum"] < arms["count"])].index
    inf = units[units["rep"].isin(both)]
    n_used, n_not = int(inf["used"].sum()), int((~inf["used"]).sum())
    entry["reps_compared"] = int(len(both))
    if len(inf) < min_calls or n_used < min_group or n_not < min_group:
        entry["note"] = NOT_ENOUGH
        return entry

    entry["win_rate_used"] = _num(used["won"].mean())
    entry["win_rate_not_used"] = _num(not_used["won"].mean())
    entry["unadjusted_difference"] = _num(used["won"].mean() - not_used["won"].mean())

    tables, cells = [], []
    for _, g in inf.groupby("rep", sort=True):
        a = g.loc[g["used"], "won"].to_numpy()
        b = g.loc[~g["used"], "won"].to_numpy()
        tables.append(np.array([[a.sum(), len(a) - a.sum()], [b.sum(), len(b) - b.sum()]], dtype=float))
        cells += [a, b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # zero cells: the MH sums cope, numpy still warns
        st = StratifiedTable(tables)
        test = st.test_null_odds(correction=True)
        entry["p_value"] = _num(test.pvalue)
        entry["odds_ratio"] = _num(st.oddsratio_pooled)
        entry["odds_ratio_ci95"] = _pair(st.oddsratio_pooled_confint(alpha=0.05))
        try:
            entry["heterogeneity_p"] = _num(st.test_equal_odds().pvalue)   # Breslow-Day: do reps differ?
        except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
            entry["heterogeneity_p"] = None
    entry["difference"] = _num(_mh_risk_difference(*cells))
    if entry["p_value"] is None:
        entry["note"] = NOT_ENOUGH
        entry["difference"] = None
        return entry
    entry["ci95"] = _bootstrap_ci(cells, rng)
    return entry


def _mh_risk_difference(*cells: np.ndarray, axis: int = -1) -> float:
    """Mantel-Haenszel risk difference from (used, not used) outcome arrays per rep, in that order."""
    num = den = 0.0
    for a, b in zip(cells[0::2], cells[1::2]):
        n1, n0 = a.shape[axis], b.shape[axis]
        w = n1 * n0 / (n1 + n0)
        num = num + w * (np.mean(a, axis=axis) - np.mean(b, axis=axis))
        den += w
    return num / den


def _bootstrap_ci(cells: list[np.ndarray], rng: np.random.Generator) -> Optional[list]:
    """95 % percentile interval of the MH risk difference over BOOTSTRAP_RESAMPLES stratified resamples.

    Each rep's used and not-used calls are resampled with replacement, separately
    (so every resample keeps each rep's arm sizes). Resampling n binary outcomes
    with replacement is drawing Binomial(n, observed rate) wins, which is how it
    is done here: exact, vectorised, and fine for arms of one call, which
    scipy.stats.bootstrap refuses."""
    n = np.array([len(c) for c in cells], dtype=float)
    p = np.array([float(np.mean(c)) for c in cells])
    rates = rng.binomial(n.astype(int), p, size=(BOOTSTRAP_RESAMPLES, len(cells))) / n
    w = n[0::2] * n[1::2] / (n[0::2] + n[1::2])
    diffs = (rates[:, 0::2] - rates[:, 1::2]) @ w / w.sum()
    return _pair(np.percentile(diffs, [2.5, 97.5]))


def _finding(e: dict[str, Any]) -> str:
    what = f"{e['category']} cards" + (f" ({e['trigger']})" if e["trigger"] else "")
    d = e["difference"]
    ci: Optional[list[float]] = e["ci95"]       # _bootstrap_ci: both ends, or None
    direction = "more" if d > 0 else "less"
    span = f" (95% CI {_pp(ci[0])} to {_pp(ci[1])})" if ci else ""
    return (f"When reps used {what}, the lead was won {abs(d) * 100:.0f} percentage points {direction} often"
            f"{span} than in the same reps' calls where the card fired but was not used "
            f"({e['calls']} calls, Holm-corrected p = {e['p_adjusted']:.3g}).")


# ------------------------------------------------------------- descriptive

def _rate(won: pd.Series, min_group: int) -> dict:
    from statsmodels.stats.proportion import proportion_confint
    n, k = int(won.count()), int(won.sum())
    out: dict[str, Any] = {"calls": n, "won": k, "rate": None, "ci95": None, "note": None}
    if n < min_group:
        out["note"] = NOT_ENOUGH
        return out
    out["rate"] = _num(k / n)
    out["ci95"] = _pair(proportion_confint(k, n, alpha=0.05, method="wilson"))
    return out


def _category_rates(cards: pd.DataFrame, known: pd.DataFrame, min_group: int) -> list[dict]:
    out = []
    for cat in [c for c in CATEGORY_ORDER if c in set(cards["category"])] + \
               sorted(set(cards["category"]) - set(CATEGORY_ORDER)):
        units = _units(cards, known, cat, None)
        out.append({"category": cat, "fired": _rate(units["won"], min_group),
                    "used": _rate(units.loc[units["used"], "won"], min_group),
                    "not_used": _rate(units.loc[~units["used"], "won"], min_group)})
    return out


def _rates(known: pd.DataFrame, column: str, min_group: int) -> list[dict]:
    return [dict(_rate(g["won"], min_group), **{column: str(value)})
            for value, g in known.groupby(column, sort=True)]


def _dismiss_rates(cards: pd.DataFrame, min_group: int) -> list[dict]:
    from statsmodels.stats.proportion import proportion_confint
    out = []
    for (cat, trig), g in cards.groupby(["category", "trigger"], sort=True):
        fb = g["feedback"]
        n, k = int(len(fb)), int((fb == "dismissed").sum())
        row: dict[str, Any] = {"category": cat, "trigger": trig, "cards": n,
                               "used": int((fb == "used").sum()), "edited": int((fb == "edited").sum()),
                               "dismissed": k, "ignored": int((fb == "none").sum()),
                               "dismiss_rate": None, "ci95": None, "note": None}
        if n < min_group:
            row["note"] = NOT_ENOUGH
        else:
            row["dismiss_rate"] = _num(k / n)
            row["ci95"] = _pair(proportion_confint(k, n, alpha=0.05, method="wilson"))
        out.append(row)
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    return sorted(out, key=lambda r: (order.get(r["category"], 99), r["category"], r["trigger"]))


def _score_trends(calls: pd.DataFrame, min_group: int) -> list[dict]:
    from scipy import stats
    dated = calls[calls["started"].notna()].copy()
    out: list[dict[str, Any]] = []
    if dated.empty:
        return out
    dated["week"] = dated["started"].map(lambda t: (t - timedelta(days=t.weekday())).date().isoformat())
    for rep, g in dated.groupby("rep", sort=True):
        weeks = [{"week": w, "calls": int(len(h)), "mean_score": _num(h["score"].mean())}
                 for w, h in g.groupby("week", sort=True)]
        entry: dict[str, Any] = {"rep": rep, "calls": int(len(g)), "mean_score": _num(g["score"].mean()),
                                 "weeks": weeks, "trend_per_week": None, "trend_p_value": None, "note": None}
        days = g["started"].map(lambda t: t.timestamp() / 86400.0).to_numpy()
        if len(g) >= min_group and len(weeks) >= 2 and np.ptp(days) > 0:
            fit = stats.linregress(days / 7.0, g["score"].to_numpy())
            entry["trend_per_week"] = _num(fit.slope)
            entry["trend_p_value"] = _num(fit.pvalue)
        else:
            entry["note"] = NOT_ENOUGH
        out.append(entry)
    return out


def _counts(records: list[dict], calls: pd.DataFrame, cards: pd.DataFrame) -> dict:
    known = calls["won"].notna()
    dates = calls["started"].dropna()
    return {
        "calls": int(len(calls)), "calls_with_outcome": int(known.sum()),
        "unknown_outcome": int((~known).sum()), "won": int(calls["won"].sum()),
        "win_rate": _num(calls["won"].mean()) if known.any() else None,
        "outcomes": {k: int(v) for k, v in calls["outcome"].value_counts().sort_index().items()},
        "reps": int(calls["rep"].nunique()), "teams": sorted(t for t in calls["team"].dropna().unique()),
        "interventions": int(len(cards)),
        "feedback": {k: int(v) for k, v in cards["feedback"].value_counts().sort_index().items()},
        "first_call": min(dates).isoformat() if len(dates) else None,
        "last_call": max(dates).isoformat() if len(dates) else None,
    }


def _caveats(result: dict) -> list[str]:
    s = result["settings"]
    c = result["counts"]
    effects = result["effects"]
    tested = [e for e in effects if e["p_value"] is not None]
    thin = [e for e in effects if e["note"] == NOT_ENOUGH]
    out = [
        "These are correlations, not proof that a card caused a sale: reps choose which cards to use, and "
        "they may use them more on calls that are already going well.",
        "Each rep is compared with themself (calls stratified by rep), so a rep who both closes more and uses "
        "more cards does not make cards look better. This removes differences between reps, but not "
        "differences between calls of the same rep (the lead, the product, the time of day, the state of the call).",
        f"{len(tested)} comparisons were tested at once; p-values are Holm-corrected so that the chance of any "
        f"false 'significant' in this report stays at {s['alpha']:.0%}. Not significant means the data cannot "
        "tell, not that there is no effect.",
        "Follow-up and no-decision count as not won; calls with an unknown outcome "
        f"({c['unknown_outcome']} of {c['calls']}) are left out of every outcome figure.",
        f"An effect needs at least {s['min_calls']} calls with a known outcome from reps who both used and did "
        f"not use the card, and {s['min_group']} in each group; a rate needs {s['min_group']} calls. Below that "
        f"the report says '{NOT_ENOUGH}'.",
        "Win rates by category, mode and profile and dismiss rates are raw: not adjusted for the rep, and "
        "modes and profiles are often chosen per rep or team.",
    ]
    if thin:
        out.append(f"{len(thin)} of {len(effects)} comparisons had {NOT_ENOUGH}.")
    if c["calls_with_outcome"] < 200:
        out.append(f"Only {c['calls_with_outcome']} calls have a known outcome: only large effects can be seen.")
    return out


# ------------------------------------------------------------------ helpers

def _when(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _num(x: Any) -> Optional[float]:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _pair(xs: Any) -> Optional[list]:
    lo, hi = (_num(x) for x in xs)
    return None if lo is None or hi is None else [lo, hi]


def _pp(x: float) -> str:
    return f"{x * 100:+.0f} pp"
