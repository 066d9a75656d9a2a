"""`intervene tune`: what a threshold change would have done to past calls.

The stored transcripts (lead and rep lines; the assistant's `ai` lines are not
what the engine monitors and are left out) are replayed through a fresh
CallEngine twice - with the profile as configured now and with the changed
thresholds - and the two runs are compared with each other and with the
interventions the calls actually got, whose feedback says which ones the reps
found useful (used / edited) and which they dismissed.

"The same intervention" is the same (category, trigger, utterance): what was
flagged, by which rule, on which line of the transcript (the utterance as the
store numbers it, so live calls' stored interventions line up). Times are not
part of it: a different dead-air threshold moves the moment, not the event.
Matching is one to one (a multiset): two identical keys need two partners.

A stored intervention counts as "disappearing" only if the current settings
reproduce it and the changed ones do not - one the current settings already
miss (the call ran under other settings, or live timing differed from the
replay) is reported separately as not reproduced, not credited to the change.

Parsing --set, the comparison and the config file edit are pure functions;
`tune_calls` does the replaying, the CLI (report/cli.py) the I/O.
"""
from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from collections import Counter
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from intervene.config import ConfigError, _tune
from intervene.core.engine import CallEngine
from intervene.core.policy import PER_CATEGORY, SETTINGS, WHOLE, Profile, out_of_range
from intervene.core.replay import replay
from intervene.errors import InterveneError
from intervene.vocab import ACTED, Category, Severity, Speaker, Utterance

# PER_CATEGORY ones are written KEY.CATEGORY=VALUE; every other setting is one number
SCALARS = tuple(sorted(set(SETTINGS) - set(PER_CATEGORY)))
COUNTS = ("before", "now", "new", "gone", "stored", "dismissed", "dismissed_gone", "acted", "acted_lost",
          "not_reproduced")


class TuneError(InterveneError, ValueError):
    """A bad --set, or a config file this can't edit safely: one clear line."""


# --------------------------------------------------------------------- --set

def parse_settings(items: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings -> the [profiles.P] table they mean, in the config
    file's shape: {"dead_air_s": 12.0, "cooldown_s": {"emotion": 60.0},
    "min_severity": {"emotion": "high"}}. KEY is any threshold config.py
    accepts (every Profile setting, the detectors' included); per-category
    ones are written KEY.CATEGORY."""
    over: dict[str, Any] = {}
    cats = [c.value for c in Category]
    for item in items:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise TuneError(f"--set {item!r}: expected KEY=VALUE, e.g. dead_air_s=12 or cooldown_s.emotion=60")
        head, dot, cat = key.partition(".")
        if head in PER_CATEGORY:
            if not dot:
                raise TuneError(f"--set {item}: `{head}` is per category: write {head}.CATEGORY=VALUE "
                                f"(categories: {', '.join(cats)})")
            if cat not in cats:
                raise TuneError(f"--set {item}: unknown category `{cat}` (expected one of {', '.join(cats)})")
            if head == "min_severity":
                sevs = [s.value for s in Severity]
                if value not in sevs:
                    raise TuneError(f"--set {item}: expected a severity ({', '.join(sevs)}), got {value!r}")
                over.setdefault(head, {})[cat] = value
            else:
                over.setdefault(head, {})[cat] = _number(head, value, item)
        elif dot or head not in SCALARS:
            known = list(SCALARS) + [f"{k}.CATEGORY" for k in PER_CATEGORY]
            raise TuneError(f"--set {item}: unknown threshold `{key}` (expected one of {', '.join(known)})")
        else:
            over[head] = _number(head, value, item)
    if not over:
        raise TuneError("nothing to try: give at least one --set KEY=VALUE")
    return over


def _number(key: str, value: str, item: str) -> float:
    """The value of setting `key`, within its range (the config file's rule);
    a whole number for counts. A cooldown is seconds: 0 or more."""
    try:
        v = float(value)
    except ValueError:
        raise TuneError(f"--set {item}: expected a number, got {value!r}")
    if key == "cooldown_s":
        need = "" if math.isfinite(v) and v >= 0 else "a number of 0 or more"
    else:
        need = out_of_range(key, v)
    if need:
        raise TuneError(f"--set {item}: expected {need}, got {value}")
    return int(v) if key in WHOLE else v


def changed_profile(base: Profile, over: Mapping[str, Any]) -> Profile:
    """`base` with the --set thresholds, through the config file's own rules."""
    try:
        return _tune(base, base.name, dict(over), "--set")
    except ConfigError as e:
        raise TuneError(str(e))


def describe(over: Mapping[str, Any]) -> str:
    """`dead_air_s = 12, cooldown_s.emotion = 60`."""
    parts = []
    for k, v in over.items():
        if isinstance(v, dict):
            parts += [f"{k}.{c} = {_toml_value(x)}" for c, x in v.items()]
        else:
            parts.append(f"{k} = {_toml_value(v)}")
    return ", ".join(parts)


# --------------------------------------------------------------- comparison

def key(iv: Mapping[str, Any]) -> tuple[str, str, int]:
    """What makes two interventions the same: category, trigger, utterance."""
    return (str(iv.get("category")), str(iv.get("trigger")), int(iv.get("utterance") or 0))


def _matched(items: Sequence[Mapping], others: Sequence[Mapping]) -> list[bool]:
    """For each item, whether it has its own partner with the same key in `others`."""
    pool = Counter(key(o) for o in others)
    out = []
    for it in items:
        k = key(it)
        out.append(pool[k] > 0)
        if pool[k] > 0:
            pool[k] -= 1
    return out


def compare(stored: Sequence[Mapping], before: Sequence[Mapping], now: Sequence[Mapping]) -> dict[str, dict[str, int]]:
    """Per category, for one call: fired `before` (current settings) and `now`
    (changed), `new` (now, not before), `gone` (before, not now); of the
    `stored` ones (with `feedback`), the `dismissed` and how many of those are
    `dismissed_gone`, the `acted` on (used or edited) and how many of those are
    `acted_lost`; and `not_reproduced`: stored ones the current settings miss."""
    out: dict[str, dict[str, int]] = {}

    def bump(cat: str, name: str) -> None:
        out.setdefault(cat, dict.fromkeys(COUNTS, 0))[name] += 1

    for iv in before:
        bump(key(iv)[0], "before")
    for iv in now:
        bump(key(iv)[0], "now")
    for iv, kept in zip(now, _matched(now, before)):
        if not kept:
            bump(key(iv)[0], "new")
    for iv, kept in zip(before, _matched(before, now)):
        if not kept:
            bump(key(iv)[0], "gone")
    in_before, in_now = _matched(stored, before), _matched(stored, now)
    for iv, b, n in zip(stored, in_before, in_now):
        cat, fb = key(iv)[0], iv.get("feedback")
        bump(cat, "stored")
        if not b:
            bump(cat, "not_reproduced")
        if fb == "dismissed":
            bump(cat, "dismissed")
            if b and not n:
                bump(cat, "dismissed_gone")
        elif fb in ACTED:
            bump(cat, "acted")
            if b and not n:
                bump(cat, "acted_lost")
    return out


def total(per_call: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    """Sum of compare() results, categories in the vocabulary's order."""
    sums: dict[str, dict[str, int]] = {}
    for result in per_call:
        for cat, counts in result.items():
            row = sums.setdefault(cat, dict.fromkeys(COUNTS, 0))
            for name, n in counts.items():
                row[name] += n
    order = [c.value for c in Category]
    return {c: sums[c] for c in sorted(sums, key=lambda c: order.index(c) if c in order else len(order))}


def table(categories: Mapping[str, Mapping[str, int]]) -> str:
    """The readable per-category table (with a total row)."""
    head = ("category", "before", "now", "new", "gone", "dismissed gone", "used/edited lost", "not reproduced")
    rows = []
    totals = dict.fromkeys(COUNTS, 0)
    for cat, c in categories.items():
        rows.append(_row(cat, c))
        for name in COUNTS:
            totals[name] += c[name]
    rows.append(_row("all", totals))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{widths[0]}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [head, *rows])


def _row(name: str, c: Mapping[str, int]) -> tuple[str, ...]:
    return (name, str(c["before"]), str(c["now"]), f"+{c['new']}", f"-{c['gone']}",
            f"{c['dismissed_gone']} of {c['dismissed']}", f"{c['acted_lost']} of {c['acted']}",
            str(c["not_reproduced"]))


# ---------------------------------------------------------------- replaying

def replay_stored(index, profile: Profile, utterance_rows: list[Mapping], modes=None) -> list[dict]:
    """Replay a stored transcript (store rows) through a fresh CallEngine;
    the interventions as {category, trigger, utterance, at, severity}, with
    `utterance` the store's index of the line (ai lines are skipped, so the
    engine's own numbering differs from the store's)."""
    rows = sorted((r for r in utterance_rows if r["speaker"] in (Speaker.LEAD.value, Speaker.REP.value)),
                  key=lambda r: (r["start"], r["idx"]))
    utts = [Utterance(i, Speaker(r["speaker"]), float(r["start"]), float(r["end"]), r["text"])
            for i, r in enumerate(rows)]
    back = {i: r["idx"] for i, r in enumerate(rows)}
    ivs = replay(CallEngine(index, profile, modes), utts)
    return [{"category": iv.category.value, "trigger": iv.trigger, "utterance": back.get(iv.utterance, iv.utterance),
             "at": round(iv.at, 2), "severity": iv.severity.value} for iv in ivs]


def tune_calls(store, index, cfg, profile: str, over: Mapping[str, Any], call_rows: list[Mapping],
               progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Replay each call (store rows) with `profile` as `cfg` has it and with
    `over` applied; the report: {"profile", "set", "calls", "skipped",
    "categories": {cat: counts}, "per_call": [{call_id, categories, new, gone}]}.
    `progress(done, total)` hears after each call (two replays each: the slow part)."""
    if profile not in cfg.profiles:
        raise TuneError(f"unknown profile {profile!r} (known: {', '.join(sorted(cfg.profiles))})")
    base = cfg.profiles[profile]
    new = changed_profile(base, over)
    per_call, skipped = [], []
    for n, row in enumerate(call_rows):
        if progress is not None:
            progress(n, len(call_rows))
        utts = store.utterances(row["id"])
        if not any(u["speaker"] in ("lead", "rep") for u in utts):
            skipped.append({"call_id": row["id"], "why": "no lead or rep lines stored"})
            continue
        try:
            modes = cfg.resolve(rep=row.get("rep"), team=row.get("team"), profile=profile).modes
        except (ConfigError, ValueError):   # modes decide delivery, not what fires
            modes = None
        stored = [{"category": iv["category"], "trigger": iv["trigger"], "utterance": iv["utterance"],
                   "feedback": iv.get("feedback")} for iv in store.interventions(row["id"])]
        before = replay_stored(index, base, utts, modes)
        now = replay_stored(index, new, utts, modes)
        counts = compare(stored, before, now)
        per_call.append({"call_id": row["id"], "categories": counts,
                         "new": [iv for iv, k in zip(now, _matched(now, before)) if not k],
                         "gone": [iv for iv, k in zip(before, _matched(before, now)) if not k]})
    if progress is not None:
        progress(len(call_rows), len(call_rows))
    return {"profile": profile, "set": dict(over), "calls": len(per_call), "skipped": skipped,
            "categories": total(p["categories"] for p in per_call), "per_call": per_call}


# ------------------------------------------------------------ config file

_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def edit_config(text: str, profile: str, over: Mapping[str, Any]) -> str:
    """The config file's text with [profiles.PROFILE] carrying `over`: a
    line-level edit, so comments and everything else stay as they were. A key
    already there gets its value replaced (its trailing comment kept); a new
    one goes after the table's last setting; a missing table is appended.
    Per-category keys go into an existing [profiles.P.cooldown_s] table, else
    as dotted keys (`cooldown_s.emotion = 60`). The result is parsed back and
    must equal the old document plus exactly these values, else TuneError
    (nothing is written then)."""
    try:
        old_doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TuneError(f"the config file is not valid TOML: {e}")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    expect = copy.deepcopy(old_doc)
    table = expect.setdefault("profiles", {}).setdefault(profile, {})
    for k, v in over.items():
        if isinstance(v, dict):
            for cat, x in v.items():
                value = _toml_value(x)
                table.setdefault(k, {})[cat] = _parsed(value)
                if _span(lines, ["profiles", profile, k]) is not None:
                    lines = _set(lines, ["profiles", profile, k], cat, value)
                else:
                    lines = _set(lines, ["profiles", profile], f"{k}.{cat}", value)
        else:
            value = _toml_value(v)
            table[k] = _parsed(value)
            lines = _set(lines, ["profiles", profile], k, value)
    new = "".join(lines)
    try:
        got = tomllib.loads(new)
    except tomllib.TOMLDecodeError as e:
        raise TuneError(f"cannot edit [profiles.{profile}] safely (the result would not be valid TOML: {e}); "
                        f"set {describe(over)} by hand")
    if got != expect:
        raise TuneError(f"cannot edit [profiles.{profile}] safely (it is written in a form this does not "
                        f"edit, e.g. an inline table); set {describe(over)} by hand")
    return new


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{path} (now)", tofile=f"{path} (tuned)"))


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _parsed(value: str) -> Any:
    return tomllib.loads(f"v = {value}")["v"]


def _name(inner: str) -> list[str]:
    return [p.strip().strip('"').strip("'") for p in inner.split(".")]


def _span(lines: list[str], name: list[str]) -> Optional[tuple[int, int]]:
    """(header line, end) of the table [name]; None if it has no header."""
    start = None
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if not m and not line.lstrip().startswith("[["):
            continue
        if start is not None:
            return start, i
        if m and _name(m.group(1)) == name:
            start = i
    return (start, len(lines)) if start is not None else None


def _set(lines: list[str], table: list[str], k: str, value: str) -> list[str]:
    span = _span(lines, table)
    if span is None:
        tail = [] if not lines or lines[-1].strip() == "" else ["\n"]
        return lines + tail + [f"[{'.'.join(table)}]\n", f"{k} = {value}\n"]
    start, end = span
    pattern = re.compile(r"^(\s*" + r"\s*\.\s*".join(re.escape(p) for p in k.split(".")) + r"\s*=\s*)([^#\n]*?)(\s*#.*)?(\n?)$")
    for i in range(start + 1, end):
        m = pattern.match(lines[i])
        if m:
            lines = list(lines)
            lines[i] = f"{m.group(1)}{value}{m.group(3) or ''}\n"
            return lines
    last = start
    for i in range(start + 1, end):
        s = lines[i].strip()
        if s and not s.startswith("#"):
            last = i
    lines = list(lines)
    lines.insert(last + 1, f"{k} = {value}\n")
    return lines
