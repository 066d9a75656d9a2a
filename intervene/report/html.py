"""`intervene report --out DIR`: report.json, the charts as PNG and report.html.

    html_path, json_path = write_report(records, "out/", "team east, since 2026-10-01")

report.json is `analyse()`'s result plus `description` and `images` (chart
name -> file name, relative to DIR). report.html is one page with inline CSS
that refers to the PNGs next to it by relative path, so DIR can be zipped,
mailed or served as it is. Every text that comes from the data is escaped.
`render_html(result, images, description)` gives the page alone (for a web
handler that keeps the result in memory).
"""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Optional

from intervene.report.analysis import NOT_ENOUGH, analyse
from intervene.report.plots import write_plots

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1000px;
     padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.6rem 0}
th,td{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
th{background:#f6f6f6} td.l,th.l{text-align:left} tr.sig td{background:#fff4f4;font-weight:600}
.yes{color:#b00} .na{color:#888;font-style:italic} img{max-width:100%;height:auto;margin:.5rem 0}
.finding{background:#fff4f4;border-left:4px solid #d62728;padding:.4rem .8rem;margin:.4rem 0}
.caveats li{margin:.3rem 0} .small{font-size:.85rem;color:#555}
"""


def write_report(records: list[dict], out_dir: str | Path, filters_description: str = "all calls",
                 **options: Any) -> tuple[Path, Path]:
    """Analyse `records` (already filtered; `filters_description` says how, e.g.
    "team east, since 2026-10-01") and write DIR/report.json, DIR/*.png and
    DIR/report.html. `options` go to `analyse` (min_calls, alpha, ...).
    Returns (html path, json path)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = analyse(records, **options)
    images = {name: path.name for name, path in write_plots(result, out).items()}
    result = dict(result, description=filters_description, images=images)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_html(result, images, filters_description), encoding="utf-8")
    return html_path, json_path


def render_html(result: dict, images: dict[str, str], description: str = "all calls") -> str:
    """The report page; `images` maps chart names (plots.FILES) to URLs relative to the page."""
    c = result["counts"]
    s = result["settings"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>intervene report: which interventions go with better outcomes</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Which interventions go with better outcomes</h1>",
        f'<p class="sub">{_e(description)} &middot; {c["calls"]} calls'
        f'{_range(c)} &middot; {c["reps"]} reps &middot; {c["calls_with_outcome"]} with a known outcome, '
        f'{c["won"]} won ({_pct(c["win_rate"])})</p>',
        "<h2>Findings</h2>",
    ]
    if result["findings"]:
        parts += [f'<p class="finding">{_e(f)}</p>' for f in result["findings"]]
    else:
        parts.append("<p>No kind of intervention shows a difference in outcome that survives the correction "
                     "for testing many at once. That does not mean they make no difference: it means these "
                     "calls cannot show one.</p>")
    parts.append("<h2>What these numbers can and cannot say</h2><ul class=\"caveats\">")
    parts += [f"<li>{_e(x)}</li>" for x in result["caveats"]]
    parts.append("</ul>")

    parts.append("<h2>Effect of using each kind of card</h2>")
    parts.append(f'<p class="small">Each row compares calls where the card fired and the rep used or edited '
                 f"it with calls of the same reps where it fired but was not used. Raw win rates are pooled; "
                 f"the adjusted difference compares each rep with themself (Mantel-Haenszel), with a bootstrap "
                 f"95% interval; p is the Cochran-Mantel-Haenszel test, Holm-corrected across all "
                 f"{sum(1 for e in result['effects'] if e['p_value'] is not None)} tests; "
                 f"significant means corrected p &lt; {s['alpha']:g}.</p>")
    parts.append(_effects_table(result["effects"]))
    parts.append(_img(images, "effects", "Rep-adjusted difference in win rate per category and trigger"))
    parts.append(_img(images, "category", "Win rate by category, used vs not used"))

    parts.append("<h2>Win rate by category</h2>")
    parts.append(_category_table(result["rates"]["by_category"]))
    parts.append("<h2>Win rate by mode and profile</h2>")
    parts.append(_img(images, "mode", "Win rate by mode"))
    parts.append(_rate_table(result["rates"]["by_mode"], "mode"))
    parts.append(_img(images, "profile", "Win rate by profile"))
    parts.append(_rate_table(result["rates"]["by_profile"], "profile"))

    parts.append("<h2>Dismiss rate per trigger</h2>")
    parts.append(_img(images, "dismiss", "Dismiss rate per trigger"))
    parts.append(_dismiss_table(result["dismiss_by_trigger"]))

    parts.append("<h2>Scores per rep over time</h2>")
    parts.append(_img(images, "scores", "Mean call score per rep per week"))
    parts.append(_trend_table(result["score_trends"]))

    parts.append("<h2>Method</h2><ul class=\"small\">")
    parts += [f"<li><b>{_e(k.replace('_', ' '))}</b>: {_e(v)}</li>" for k, v in result["method"].items()]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------ tables

def _effects_table(effects: list[dict]) -> str:
    head = ("<tr><th class=l>category</th><th class=l>trigger</th><th>calls</th><th>used</th>"
            "<th>dismissed</th><th>won, used (raw)</th><th>won, not used (raw)</th><th>difference, same rep</th>"
            "<th>95% CI</th><th>p</th><th>p (Holm)</th><th>significant</th></tr>")
    rows = []
    for e in effects:
        cls = ' class="sig"' if e["significant"] else ""
        first = (f"<td class=l>{_e(e['category'])}</td><td class=l>{_e(e['trigger'] or 'all')}</td>"
                 f"<td>{e['calls']}</td><td>{e['used']}</td><td>{e['dismissed']}</td>")
        if e["note"] == NOT_ENOUGH or e["difference"] is None:
            rows.append(f"<tr{cls}>{first}<td colspan=7 class=na>{_e(e['note'] or NOT_ENOUGH)}</td></tr>")
            continue
        lo, hi = e["ci95"] or (None, None)
        sig = '<span class="yes">yes</span>' if e["significant"] else "no"
        rows.append(f"<tr{cls}>{first}<td>{_pct(e['win_rate_used'])}</td><td>{_pct(e['win_rate_not_used'])}</td>"
                    f"<td>{_pp(e['difference'])}</td><td>{_pp(lo)} to {_pp(hi)}</td>"
                    f"<td>{_p(e['p_value'])}</td><td>{_p(e['p_adjusted'])}</td><td>{sig}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _category_table(rows: list[dict]) -> str:
    head = ("<tr><th class=l>category</th><th>calls fired</th><th>won when fired</th>"
            "<th>won, used</th><th>won, not used</th></tr>")
    body = "".join(f"<tr><td class=l>{_e(r['category'])}</td><td>{r['fired']['calls']}</td>"
                   f"<td>{_rate(r['fired'])}</td><td>{_rate(r['used'])}</td><td>{_rate(r['not_used'])}</td></tr>"
                   for r in rows)
    return f"<table>{head}{body}</table>"


def _rate_table(rows: list[dict], key: str) -> str:
    head = f"<tr><th class=l>{_e(key)}</th><th>calls</th><th>won</th><th>win rate (95% CI)</th></tr>"
    body = "".join(f"<tr><td class=l>{_e(r[key])}</td><td>{r['calls']}</td><td>{r['won']}</td>"
                   f"<td>{_rate(r)}</td></tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _dismiss_table(rows: list[dict]) -> str:
    head = ("<tr><th class=l>category</th><th class=l>trigger</th><th>cards</th><th>used</th><th>edited</th>"
            "<th>dismissed</th><th>ignored</th><th>dismiss rate (95% CI)</th></tr>")
    body = []
    for r in rows:
        rate = (f'<span class="na">{NOT_ENOUGH}</span>' if r["dismiss_rate"] is None
                else f"{_pct(r['dismiss_rate'])} ({_pct(r['ci95'][0])}-{_pct(r['ci95'][1])})")
        body.append(f"<tr><td class=l>{_e(r['category'])}</td><td class=l>{_e(r['trigger'])}</td>"
                    f"<td>{r['cards']}</td><td>{r['used']}</td><td>{r['edited']}</td><td>{r['dismissed']}</td>"
                    f"<td>{r['ignored']}</td><td>{rate}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _trend_table(rows: list[dict]) -> str:
    head = "<tr><th class=l>rep</th><th>calls</th><th>mean score</th><th>trend (points per week)</th></tr>"
    body = []
    for r in rows:
        trend = (f'<span class="na">{NOT_ENOUGH}</span>' if r["trend_per_week"] is None
                 else f"{r['trend_per_week']:+.1f}")
        body.append(f"<tr><td class=l>{_e(r['rep'])}</td><td>{r['calls']}</td>"
                    f"<td>{r['mean_score']:.0f}</td><td>{trend}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


# ----------------------------------------------------------------- helpers

def _img(images: dict[str, str], name: str, alt: str) -> str:
    src = images.get(name)
    return f'<img src="{_e(src)}" alt="{_e(alt)}">' if src else ""


def _rate(r: dict) -> str:
    if r["rate"] is None:
        return f'<span class="na">{_e(r.get("note") or NOT_ENOUGH)}</span>'
    lo, hi = r["ci95"]
    return f"{_pct(r['rate'])} ({_pct(lo)}-{_pct(hi)})"


def _range(c: dict) -> str:
    if not c.get("first_call"):
        return ""
    return f" from {_e(c['first_call'][:10])} to {_e(c['last_call'][:10])}"


def _e(x: Any) -> str:
    return escape(str(x), quote=True)


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def _pp(x: Optional[float]) -> str:
    return "-" if x is None else f"{x * 100:+.1f} pp"


def _p(x: Optional[float]) -> str:
    if x is None:
        return "-"
    return "&lt;0.001" if x < 0.001 else f"{x:.3f}"
