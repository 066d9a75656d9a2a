"""Tests for `intervene report`'s analysis (intervene/report/analysis.py, synth.py,
plots.py, html.py): synthetic records are valid section-6 records with real rep
confounding; a planted effect is found with its direction; data without an
effect (but with the confounding) flags nothing; small samples say "not enough
calls"; the Holm correction is applied; report.json, the PNGs and report.html
are written. Fast: every data set is generated in memory from a fixed seed."""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests

from intervene.formats.record import parse_records, read_record
from intervene.report.analysis import NOT_ENOUGH, analyse
from intervene.report.html import write_report
from intervene.report.plots import FILES
from intervene_harness.synth import CATEGORIES, synthetic_records

PLANTED = {"accuracy": (0.55, 0.30), "emotion": (0.15, 0.45)}
NULL_SEEDS = (11, 12, 13, 14)
EFFECT_KEYS = {"category", "trigger", "calls", "used", "dismissed", "win_rate_used", "win_rate_not_used",
               "difference", "ci95", "p_value", "significant"}


@lru_cache(maxsize=None)
def _data(n: int, seed: int, planted: bool) -> tuple:
    recs = synthetic_records(n, seed=seed, effects=PLANTED if planted else None)
    return tuple(read_record(r) for r in recs)      # what a reader of exported records would hand over


@lru_cache(maxsize=None)
def _analysis(n: int, seed: int, planted: bool) -> dict:
    return analyse(list(_data(n, seed, planted)))


def _entry(result: dict, category: str, trigger=None) -> dict:
    return next(e for e in result["effects"] if e["category"] == category and e["trigger"] == trigger)


# ------------------------------------------------------------ the generator

def test_synthetic_records_are_valid_section_6_records_and_deterministic():
    recs = synthetic_records(300, seed=3, effects=PLANTED)
    assert len(recs) == 300
    for r in recs:
        read_record(r)
    text = "\n".join(json.dumps(r) for r in recs)
    parsed, errors = parse_records(text, "synthetic.jsonl")
    assert errors == [] and len(parsed) == 300
    assert synthetic_records(300, seed=3, effects=PLANTED) == recs
    assert synthetic_records(300, seed=4, effects=PLANTED) != recs
    assert len({r["call_id"] for r in recs}) == 300
    assert {r["outcome"] for r in recs} >= {"won", "lost", "follow-up", "no-decision"}
    feedback = {iv["feedback"] for r in recs for iv in r["interventions"]}
    assert feedback == {"used", "edited", "dismissed", None}
    assert {iv["category"] for r in recs for iv in r["interventions"]} == set(CATEGORIES)
    assert len({r["rep"] for r in recs}) == 6 and len({r["profile"] for r in recs}) == 3
    assert all(0 <= r["score"]["total"] <= 100 for r in recs)
    weeks = {r["started"][:10] for r in recs}
    assert len(weeks) > 20                                       # spread over weeks, not one day
    with pytest.raises(ValueError):
        synthetic_records(10, effects={"nonsense": (0.5, 0.5)})


def test_null_data_is_confounded_by_rep():
    """Good reps both close more and use more cards: pooled, "used" looks better even without an effect."""
    recs = _data(1500, NULL_SEEDS[0], False)
    by_rep: dict[str, list] = {}
    for r in recs:
        if r["outcome"] == "unknown":
            continue
        acted = [iv["feedback"] in ("used", "edited") for iv in r["interventions"]]
        by_rep.setdefault(r["rep"], []).append((r["outcome"] == "won", np.mean(acted) if acted else np.nan))
    win = {rep: np.mean([w for w, _ in v]) for rep, v in by_rep.items()}
    use = {rep: np.nanmean([u for _, u in v]) for rep, v in by_rep.items()}
    reps = sorted(win)
    assert np.corrcoef([win[r] for r in reps], [use[r] for r in reps])[0, 1] > 0.7
    assert max(win.values()) - min(win.values()) > 0.2


# ---------------------------------------------------------------- effects

def test_planted_effects_found_with_their_direction():
    result = _analysis(3000, 1, True)
    acc = _entry(result, "accuracy")
    assert acc["significant"] is True
    assert acc["difference"] > 0.1 and acc["ci95"][0] > 0
    assert acc["win_rate_used"] > acc["win_rate_not_used"]
    assert acc["odds_ratio"] > 1 and acc["p_adjusted"] < 0.05
    emo = _entry(result, "emotion")
    assert emo["significant"] is True
    assert emo["difference"] < -0.1 and emo["ci95"][1] < 0
    assert emo["win_rate_used"] < emo["win_rate_not_used"]
    # nothing else is flagged: only the two planted categories (and emotion's own triggers)
    flagged = {e["category"] for e in result["effects"] if e["significant"]}
    assert flagged == {"accuracy", "emotion"}
    assert len(result["findings"]) == sum(e["significant"] for e in result["effects"])
    assert "more often" in result["findings"][0] and "accuracy" in result["findings"][0]


@pytest.mark.parametrize("seed", NULL_SEEDS)
def test_null_data_flags_nothing_though_a_pooled_comparison_would_be_biased(seed):
    result = _analysis(1500, seed, False)
    assert not [e for e in result["effects"] if e["significant"]]
    assert result["findings"] == []
    cats = [e for e in result["effects"] if e["trigger"] is None]
    assert {e["category"] for e in cats} == set(CATEGORIES)
    assert all(e["note"] is None for e in cats)
    naive = np.mean([e["unadjusted_difference"] for e in cats])
    adjusted = np.mean([e["difference"] for e in cats])
    assert naive > 0.02                      # the confounding shows in the raw rates ...
    assert abs(adjusted) < naive              # ... and the per-rep comparison takes it out
    assert naive - adjusted > 0.02


def test_a_pooled_test_would_have_flagged_the_null_data():
    """The point of stratifying: on the same null data, an unadjusted chi-square per
    category with the same Holm correction finds 'effects' that are only the rep."""
    hits = 0
    for seed in NULL_SEEDS:
        result = _analysis(1500, seed, False)
        ps = []
        for row in result["rates"]["by_category"]:
            u, n = row["used"], row["not_used"]
            table = np.array([[u["won"], u["calls"] - u["won"]], [n["won"], n["calls"] - n["won"]]])
            ps.append(Table2x2(table).test_nominal_association().pvalue)
        hits += bool(multipletests(ps, method="holm")[0].any())
    assert hits >= 1


def test_holm_correction_is_applied_across_all_tests():
    for seed in NULL_SEEDS:
        result = _analysis(1500, seed, False)
        tested = [e for e in result["effects"] if e["p_value"] is not None]
        assert len(tested) >= 10                                  # categories and triggers
        expected = multipletests([e["p_value"] for e in tested], method="holm")[1]
        assert [e["p_adjusted"] for e in tested] == pytest.approx(list(expected))
        assert all(e["p_adjusted"] >= e["p_value"] for e in tested)
        assert all(e["significant"] == (e["p_adjusted"] < 0.05) for e in tested)
        assert result["settings"]["correction"] == "holm"
    # at least one null data set has an uncorrected p below 0.05 that the correction rightly discards
    raw_hits = [e for s in NULL_SEEDS for e in _analysis(1500, s, False)["effects"]
                if e["p_value"] is not None and e["p_value"] < 0.05]
    assert raw_hits and not any(e["significant"] for e in raw_hits)


def test_small_sample_says_not_enough_calls():
    result = analyse(synthetic_records(40, seed=5, effects=PLANTED))
    assert result["effects"]
    for e in result["effects"]:
        assert e["note"] == NOT_ENOUGH
        assert e["significant"] is False
        for key in ("win_rate_used", "win_rate_not_used", "difference", "ci95", "p_value"):
            assert e[key] is None
    assert all(e["trigger"] is None for e in result["effects"])   # triggers only where there is enough data
    rates = [r for row in result["rates"]["by_category"] for r in (row["used"], row["not_used"])]
    assert any(r["note"] == NOT_ENOUGH and r["rate"] is None for r in rates)
    assert any("only large effects" in c for c in result["caveats"])
    # min_calls is honoured: the same data with a lower bar gets figures
    assert any(e["difference"] is not None for e in analyse(synthetic_records(400, seed=5), min_calls=20)["effects"])
    assert all(e["note"] == NOT_ENOUGH for e in analyse(synthetic_records(400, seed=5), min_calls=1000)["effects"])


def test_unknown_outcomes_are_left_out_and_empty_input_works():
    recs = [dict(r) for r in synthetic_records(200, seed=6)]
    n_unknown = sum(r["outcome"] == "unknown" for r in recs)
    result = analyse(recs)
    assert result["counts"]["unknown_outcome"] == n_unknown
    assert result["counts"]["calls_with_outcome"] == 200 - n_unknown
    empty = analyse([])
    assert empty["effects"] == [] and empty["counts"]["calls"] == 0 and empty["caveats"]


def test_descriptive_rates_and_trends():
    result = _analysis(1500, NULL_SEEDS[0], False)
    for row in result["rates"]["by_mode"] + result["rates"]["by_profile"]:
        lo, hi = row["ci95"]
        assert lo <= row["rate"] <= hi
    assert {r["mode"] for r in result["rates"]["by_mode"]} == {"silent", "voice", "whisper"}
    triggers = {(r["category"], r["trigger"]) for r in result["dismiss_by_trigger"]}
    assert ("accuracy", "kb-mismatch") in triggers and ("momentum", "dead-air") in triggers
    for r in result["dismiss_by_trigger"]:
        assert r["cards"] == r["used"] + r["edited"] + r["dismissed"] + r["ignored"]
        assert r["dismiss_rate"] == pytest.approx(r["dismissed"] / r["cards"])
    trends = result["score_trends"]
    assert len(trends) == 6 and all(len(t["weeks"]) >= 6 for t in trends)
    assert all(t["trend_per_week"] is not None for t in trends)


# ---------------------------------------------------------------- the files

def test_write_report_writes_json_pngs_and_html(tmp_path):
    recs = list(_data(1500, 1, True))
    html_path, json_path = write_report(recs, tmp_path / "out", "team <east> & \"since\" 2026-09-01")
    assert html_path == tmp_path / "out" / "report.html" and json_path == tmp_path / "out" / "report.json"
    data = json.loads(json_path.read_text())
    assert {"effects", "caveats", "counts", "rates", "dismiss_by_trigger", "score_trends", "images"} <= set(data)
    for e in data["effects"]:
        assert EFFECT_KEYS <= set(e)
        assert e["ci95"] is None or (len(e["ci95"]) == 2 and e["ci95"][0] <= e["difference"] <= e["ci95"][1])
    assert any(e["significant"] for e in data["effects"])
    assert data["description"].startswith("team <east>")
    assert set(data["images"].values()) == set(FILES.values())
    for name in FILES.values():
        png = (tmp_path / "out" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    html = html_path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "team &lt;east&gt; &amp; &quot;since&quot;" in html and "<east>" not in html
    for name in FILES.values():
        assert f'src="{name}"' in html
    assert 'class="sig"' in html and "correlations, not proof" in html
    assert "Holm" in html


def test_write_report_small_sample_html_says_not_enough_calls(tmp_path):
    html_path, json_path = write_report(synthetic_records(30, seed=9), tmp_path, "tiny")
    assert "not enough calls" in html_path.read_text()
    assert all(e["note"] == NOT_ENOUGH for e in json.loads(json_path.read_text())["effects"])
    assert all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in FILES.values())
