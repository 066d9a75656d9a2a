#!/usr/bin/env python3
"""Self-check for this evaluation set: python3 check.py (exit 0 = all good).

Validates the KB (YAML, company, ids, deadlines), every NAME.jsonl (valid JSON,
speakers, times increasing, gaps), every NAME.expect.json (kb path, profile,
categories, utterance indices in range, within, mentions, ignore,
correct_claims), the process labels against the KB deadlines, and that the
README lists every call."""
import glob
import json
import os
import re
import sys

# the set to check: the folder given, else the current one (each industry folder holds one set)
HERE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.getcwd()
CATEGORIES = {"accuracy", "emotion", "momentum", "opportunity", "competitive", "compliance", "process"}
PROFILES = {"minimal", "standard", "training"}
SPEAKERS = {"rep", "lead"}
MIN_GAP, MAX_GAP, PAUSE = 0.25, 1.2, 4.0   # normal gaps; anything >= PAUSE is a deliberate pause
errors = []


def err(where, msg):
    errors.append("%s: %s" % (where, msg))


def load_kb(path):
    try:
        import yaml
    except ImportError:
        print("warning: PyYAML not installed, KB checks skipped")
        return None
    try:
        kb = yaml.safe_load(open(path, encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        err(path, "YAML does not parse: %s" % e)
        return None
    if not isinstance(kb, dict) or not kb.get("company"):
        err(path, "missing 'company'")
        return None
    ids = []
    for p in kb.get("products", []):
        ids.append(p.get("id"))
        if not p.get("facts"):
            err(path, "product %r has no facts" % p.get("id"))
    for f in kb.get("facts", []):
        ids.append(f.get("id"))
        if not f.get("text"):
            err(path, "fact %r has no text" % f.get("id"))
    for sect in ("competitors", "opportunities", "promotions"):
        ids += [x.get("id") for x in kb.get(sect, [])]
    comp = kb.get("compliance", {})
    ids += [x.get("id") for x in comp.get("forbidden", [])]
    ids += [x.get("id") for x in comp.get("required", [])]
    ids += [x.get("id") for x in kb.get("process", [])]
    for i in ids:
        if not isinstance(i, str) or not re.fullmatch(r"[a-z0-9-]+", i):
            err(path, "bad id %r" % (i,))
    for r in comp.get("required", []):
        if not isinstance(r.get("within_s"), (int, float)) or not r.get("phrases"):
            err(path, "required %r needs phrases and within_s" % r.get("id"))
    for p in kb.get("process", []):
        if not isinstance(p.get("by_s"), (int, float)) or not p.get("phrases"):
            err(path, "process %r needs phrases and by_s" % p.get("id"))
    nfacts = sum(len(p.get("facts", [])) for p in kb.get("products", [])) + len(kb.get("facts", []))
    if not 15 <= nfacts <= 25:
        err(path, "%d facts (want 15-25)" % nfacts)
    return kb


def load_call(path):
    utts = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                u = json.loads(line)
            except ValueError as e:
                err(path, "line %d: invalid JSON (%s)" % (n, e))
                continue
            for k, t in (("start", (int, float)), ("end", (int, float)), ("speaker", str), ("text", str)):
                if not isinstance(u.get(k), t):
                    err(path, "line %d: key %r missing or wrong type" % (n, k))
                    break
            else:
                if u["speaker"] not in SPEAKERS:
                    err(path, "line %d: speaker %r" % (n, u["speaker"]))
                if u["end"] <= u["start"]:
                    err(path, "line %d: end <= start" % n)
                if not u["text"].strip():
                    err(path, "line %d: empty text" % n)
                if utts:
                    gap = round(u["start"] - utts[-1]["end"], 3)
                    if gap < 0:
                        err(path, "line %d: starts before the previous utterance ends" % n)
                    elif not (MIN_GAP - 1e-6 <= gap <= MAX_GAP + 1e-6 or gap >= PAUSE):
                        err(path, "line %d: gap %.2f s outside %.2f-%.2f and not a deliberate pause" % (n, gap, MIN_GAP, MAX_GAP))
                utts.append(u)
    return utts


def check_expect(path, utts, kb, deadlines):
    try:
        ex = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        err(path, "invalid JSON (%s)" % e)
        return None
    if ex.get("kb") != "kb.yaml" or not os.path.exists(os.path.join(HERE, ex.get("kb", ""))):
        err(path, "kb must be 'kb.yaml' and exist")
    prof = ex.get("profile")
    if prof not in PROFILES:
        err(path, "profile %r" % prof)
    n = len(utts)
    labelled = set()
    for j, e in enumerate(ex.get("expect", [])):
        w = "%s expect[%d]" % (path, j)
        if e.get("category") not in CATEGORIES:
            err(w, "category %r" % e.get("category"))
        i = e.get("utterance")
        if not isinstance(i, int) or not 0 <= i < n:
            err(w, "utterance %r out of range 0..%d" % (i, n - 1))
            continue
        if not isinstance(e.get("within"), int) or e["within"] < 0:
            err(w, "within must be a non-negative int")
        m = e.get("mentions")
        if not isinstance(m, list) or not all(isinstance(g, list) and g and all(isinstance(s, str) and s for s in g) for g in m):
            err(w, "mentions must be a list of non-empty lists of strings")
        cat = e.get("category")
        if cat in ("accuracy", "compliance") and utts[i]["speaker"] != "rep":
            err(w, "%s label on a lead utterance" % cat)
        if cat in ("emotion", "opportunity", "competitive") and utts[i]["speaker"] != "lead":
            err(w, "%s label on a rep utterance" % cat)
        if cat == "momentum":
            gap = utts[i + 1]["start"] - utts[i]["end"] if i + 1 < n else 0
            if gap < PAUSE:
                err(w, "momentum label but the gap after it is only %.2f s" % gap)
        if cat == "process":
            if prof != "training":
                err(w, "process label outside the training profile")
            ok = any(i == max((k for k, u in enumerate(utts) if u["end"] < d), default=-1) and utts[-1]["end"] > d
                     for d in deadlines)
            if deadlines and not ok:
                err(w, "process label is not the last utterance ending before any KB deadline %s" % sorted(deadlines))
        if cat in ("accuracy", "compliance"):
            labelled.add(i)
    ign = ex.get("ignore", [])
    if not isinstance(ign, list) or any(c not in CATEGORIES for c in ign):
        err(path, "ignore must list valid categories")
    cc = ex.get("correct_claims", [])
    if not isinstance(cc, list) or len(set(cc)) != len(cc):
        err(path, "correct_claims must be a list of unique indices")
        cc = []
    for i in cc:
        if not isinstance(i, int) or not 0 <= i < n:
            err(path, "correct_claims index %r out of range" % (i,))
        elif utts[i]["speaker"] != "rep":
            err(path, "correct_claims %d is not a rep utterance" % i)
        elif i in labelled:
            err(path, "correct_claims %d is also labelled accuracy/compliance" % i)
    return ex


def main():
    kb = load_kb(os.path.join(HERE, "kb.yaml"))
    deadlines = set()
    if kb:
        deadlines |= {r["within_s"] for r in kb.get("compliance", {}).get("required", [])}
        deadlines |= {p["by_s"] for p in kb.get("process", [])}
    readme = open(os.path.join(HERE, "README.md"), encoding="utf-8").read() if os.path.exists(os.path.join(HERE, "README.md")) else ""
    if not readme:
        err("README.md", "missing")
    calls = sorted(glob.glob(os.path.join(HERE, "*.jsonl")))
    counts, profiles, total_cc = {}, {}, 0
    for c in calls:
        name = os.path.basename(c)[:-len(".jsonl")]
        utts = load_call(c)
        if not 20 <= len(utts) <= 40:
            err(c, "%d utterances (want 20-40)" % len(utts))
        xp = os.path.join(HERE, name + ".expect.json")
        if not os.path.exists(xp):
            err(c, "no matching .expect.json")
            continue
        ex = check_expect(xp, utts, kb, deadlines)
        if ex is None:
            continue
        if "**%s**" % name not in readme:
            err("README.md", "call %s not described" % name)
        profiles[ex.get("profile")] = profiles.get(ex.get("profile"), 0) + 1
        for e in ex.get("expect", []):
            counts[e.get("category")] = counts.get(e.get("category"), 0) + 1
        total_cc += len(ex.get("correct_claims", []))
    for x in glob.glob(os.path.join(HERE, "*.expect.json")):
        if not os.path.exists(x[:-len(".expect.json")] + ".jsonl"):
            err(x, "no matching .jsonl")
    if len(calls) != 12:
        err(HERE, "%d calls (want 12)" % len(calls))
    if total_cc < 30:
        err(HERE, "only %d correct claims (want >= 30)" % total_cc)
    print("calls: %d  profiles: %s" % (len(calls), dict(sorted(profiles.items()))))
    print("expected interventions: %s (total %d)" % (dict(sorted(counts.items())), sum(counts.values())))
    print("correct claims (must not fire): %d" % total_cc)
    if errors:
        print("\n%d problem(s):" % len(errors))
        for e in errors:
            print("  - " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
