"""The report's charts as PNG files, drawn from `analyse()`'s result.

Matplotlib through its Agg canvas only (no pyplot, no display, no global
state), so this runs on a headless server and inside a web handler. Every
function takes the result and a folder and returns the path it wrote; a
group with "not enough calls" is drawn as an empty slot labelled so.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:   # matplotlib itself loads on the first chart: every command imports this module
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

USED = "#1f77b4"
NOT_USED = "#c7c7c7"
ONE = "#4c72b0"
SIGNIFICANT = "#d62728"
GRID = "#e5e5e5"
DPI = 110

FILES = {"category": "win-rate-by-category.png", "effects": "adjusted-differences.png",
         "mode": "win-rate-by-mode.png", "profile": "win-rate-by-profile.png",
         "scores": "score-trends.png", "dismiss": "dismiss-rate-by-trigger.png"}


def write_plots(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """Every chart; returns {name: path} with the names of FILES."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "category": plot_category_rates(result, out),
        "effects": plot_effects(result, out),
        "mode": plot_rates(result, out, "mode"),
        "profile": plot_rates(result, out, "profile"),
        "scores": plot_score_trends(result, out),
        "dismiss": plot_dismiss_rates(result, out),
    }


def plot_category_rates(result: dict, out_dir: str | Path) -> Path:
    """Win rate per category, calls where the card was used vs fired but not used, Wilson 95 % bars."""
    rows = result["rates"]["by_category"]
    fig, ax = _figure(max(6.0, 1.1 * len(rows) + 2))
    width = 0.38
    for k, (arm, color, label) in enumerate((("used", USED, "card used or edited"),
                                             ("not_used", NOT_USED, "fired, not used"))):
        xs = [i + (k - 0.5) * width for i in range(len(rows))]
        _bars(ax, xs, [r[arm] for r in rows], color, label, width)
    ax.set_xticks(range(len(rows)), [r["category"] for r in rows])
    ax.set_xlim(-0.7, len(rows) - 0.3)
    _percent_axis(ax)
    ax.set_title("Win rate by intervention category: used vs not used (raw, 95% CI)")
    ax.legend(loc="upper right", frameon=False)
    return _save(fig, out_dir, FILES["category"])


def plot_effects(result: dict, out_dir: str | Path) -> Path:
    """The rep-adjusted difference (used minus not used) with its 95 % CI, one row per tested group."""
    rows = result["effects"]
    fig, ax = _figure(9.0, max(2.8, 0.42 * len(rows) + 1.4))
    labels = []
    for y, e in enumerate(reversed(rows)):
        labels.append(e["category"] + (f" / {e['trigger']}" if e["trigger"] else ""))
        if e["difference"] is None:
            ax.text(0, y, "not enough calls", va="center", ha="center", fontsize=8, color="#777777")
            continue
        color = SIGNIFICANT if e["significant"] else ONE
        lo, hi = e["ci95"] or (e["difference"], e["difference"])
        ax.errorbar([e["difference"] * 100], [y], xerr=[[max(0.0, (e["difference"] - lo) * 100)],
                                                        [max(0.0, (hi - e["difference"]) * 100)]],
                    fmt="o", color=color, ecolor=color, capsize=3)
    ax.axvline(0, color="#555555", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("difference in win rate, used minus not used, same rep (percentage points)")
    ax.set_title("Effect of using each kind of card, each rep compared with themself\n"
                 "(95% CI; red: significant after Holm correction)")
    ax.grid(axis="x", color=GRID)
    ax.set_axisbelow(True)
    return _save(fig, out_dir, FILES["effects"])


def plot_rates(result: dict, out_dir: str | Path, by: str) -> Path:
    """Win rate per call mode (`by="mode"`) or profile (`by="profile"`), Wilson 95 % bars."""
    rows = result["rates"][f"by_{by}"]
    fig, ax = _figure(max(5.0, 1.2 * len(rows) + 2))
    _bars(ax, list(range(len(rows))), rows, ONE, None, 0.6)
    ax.set_xticks(range(len(rows)), [f"{r[by]}\n({r['calls']} calls)" for r in rows])
    _percent_axis(ax)
    ax.set_title(f"Win rate by {by} (raw, 95% CI)")
    return _save(fig, out_dir, FILES[by])


def plot_score_trends(result: dict, out_dir: str | Path) -> Path:
    """Mean call score per rep per week."""
    fig, ax = _figure(9.0)
    weeks = sorted({w["week"] for t in result["score_trends"] for w in t["weeks"]})
    pos = {w: i for i, w in enumerate(weeks)}
    for t in result["score_trends"]:
        pts = t["weeks"]
        ax.plot([pos[w["week"]] for w in pts], [w["mean_score"] for w in pts], marker="o", markersize=3,
                linewidth=1.5, label=t["rep"])
    ax.set_xticks(range(len(weeks)), [w[5:] for w in weeks], rotation=45 if len(weeks) > 8 else 0)
    ax.set_xlabel("week starting (month-day)")
    ax.set_ylabel("mean score (0-100)")
    ax.set_title("Call score per rep, by week")
    ax.grid(axis="y", color=GRID)
    ax.set_axisbelow(True)
    if result["score_trends"]:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    else:
        _empty(ax)
    return _save(fig, out_dir, FILES["scores"])


def plot_dismiss_rates(result: dict, out_dir: str | Path) -> Path:
    """Share of cards the rep dismissed, per trigger, Wilson 95 % bars."""
    rows = result["dismiss_by_trigger"]
    fig, ax = _figure(9.0, max(2.8, 0.38 * len(rows) + 1.4))
    labels = []
    for y, r in enumerate(reversed(rows)):
        labels.append(f"{r['category']} / {r['trigger']} ({r['cards']})")
        if r["dismiss_rate"] is None:
            ax.text(0.01, y, "not enough calls", va="center", fontsize=8, color="#777777")
            continue
        lo, hi = r["ci95"]
        ax.barh([y], [r["dismiss_rate"]], color=ONE, height=0.6)
        ax.errorbar([r["dismiss_rate"]], [y], xerr=[[r["dismiss_rate"] - lo], [hi - r["dismiss_rate"]]],
                    fmt="none", ecolor="#333333", capsize=3)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(_pct)
    ax.set_xlabel("cards dismissed (share of cards shown; number of cards in brackets)")
    ax.set_title("Dismiss rate per trigger (95% CI)")
    ax.grid(axis="x", color=GRID)
    ax.set_axisbelow(True)
    if not rows:
        _empty(ax)
    return _save(fig, out_dir, FILES["dismiss"])


# ------------------------------------------------------------------ helpers

def _figure(width: float, height: float = 4.6) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.title.set_fontsize(11)
    return fig, ax


def _bars(ax: Axes, xs: list[float], rates: list[dict], color: str, label: Optional[str], width: float) -> None:
    labelled = False
    for x, r in zip(xs, rates):
        if r["rate"] is None:
            ax.text(x, 0.02, "not enough calls", ha="center", va="bottom", fontsize=7, color="#777777",
                    rotation=90)
            continue
        lo, hi = r["ci95"]
        ax.bar([x], [r["rate"]], width=width, color=color, label=None if labelled else label)
        ax.errorbar([x], [r["rate"]], yerr=[[r["rate"] - lo], [hi - r["rate"]]], fmt="none",
                    ecolor="#333333", capsize=3)
        labelled = True
    if not labelled and label:
        ax.bar([], [], color=color, label=label)


def _pct(x: float, _pos: object = None) -> str:
    return f"{x:.0%}"


def _percent_axis(ax: Axes) -> None:
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(_pct)
    ax.set_ylabel("leads won")
    ax.grid(axis="y", color=GRID)
    ax.set_axisbelow(True)


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="#777777")


def _save(fig: Figure, out_dir: str | Path, name: str) -> Path:
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
