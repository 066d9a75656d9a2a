"""How the rep's numbers are read and compared with the KB's: every reading
of a spoken amount, what noun a number is about, whether two quantities are
about the same thing, and whether one satisfies the other. Pure functions of
quantities and text; the claim checker decides what to do with the answers."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import Sequence

from intervene.nlp.lexicon import (
    ITEM_NOUNS,
    TEENS,
    UNITS,
    Quantity,
    about_same,
    comparable,
    content_words,
    days,
    same_amount,
    same_quantity,
)
from intervene.vocab import Fact

UNIT_WORDS = frozenset("minute hour day week month quarter year percent dollar buck".split())
# the words that make a number a limit ("jobs under $200"): they say how it binds, not what it is about
BOUND_WORDS = frozenset("under over below above least most less fewer more than within".split())
OFF = re.compile(r"\s*(?:off|discount)\b", re.I)   # "$750 off": what follows a discount
EVERY = re.compile(r"\b(?:every|each)\s+(?:other\s+)?(?:\d+(?:\.\d+)?\s*(?:to|-|or)\s*)?$", re.I)


def readings(q: Quantity, text: str = "") -> list[Quantity]:
    """What a spoken amount may have meant: "three forty-nine" is $3.49 or $349,
    "nineteen ninety-nine" $19.99 or $1,999 (speech recognisers and
    transcribers write either), and "two ninety five" - left as "2 95" - is
    $295 or $2.95 ("eleven forty-nine", "11 49": $1,149 or $11.49)."""
    out = [q]
    # "three-twelve batteries" is size 312, not three to twelve: a spoken digit group
    # that the number words left as a range
    after = re.match(r"-(\d\d)\b", text[q.end:]) if q.bound == "min" and q.value == int(q.value) < 10 else None
    before = re.search(r"(?<![\d.,$])(\d)-$", text[:q.start]) if q.bound == "max" and 10 <= q.value < 100 else None
    # "one 50-minute lesson" heard as "150-minute lesson": a count fused with the
    # hyphenated number after it
    if re.fullmatch(r"[1-9]\d\d-[a-z]+", text[q.start:q.end]) and q.value % 100 >= 10:
        out.append(replace(q, value=q.value % 100))
    if after:
        out.append(replace(q, value=q.value * 100 + int(after.group(1)), bound=""))
    if before:
        out.append(replace(q, value=int(before.group(1)) * 100 + q.value, bound=""))
    if q.kind not in ("money", "bare") or q.bound == "max" and q.kind == "bare":
        return out          # ("up to 25" is a limit; "starts at 11.95" may be $1,195)
    v = q.value
    # ("thirty-four ninety-nine" may come out as "34, 99")
    split = re.search(r"(?<![\d.,$])(\d{1,2}),? $", text[:q.start])
    if split and v == int(v) and 10 <= v < 100:
        lead = int(split.group(1))
        out += [replace(q, value=lead * 100 + v), replace(q, value=lead + v / 100)]
    tail = re.match(r",? (\d\d)\b(?![.,]?\d)", text[q.end:])
    if tail and v == int(v) and 1 <= v < 100:          # ... and the "34" of "34, 99"
        out += [replace(q, value=v * 100 + int(tail.group(1))), replace(q, value=v + int(tail.group(1)) / 100)]
    # "a $195 deductible" heard as "$1195", "a forty-nine dollar fee" as "$1.49": the article
    # came out as a one in front of the number
    digits = re.sub(r"\D", "", text[q.start:q.end].split(" ")[0]) if text else ""
    if q.kind == "money" and len(digits) >= 3 and digits[0] == "1" and digits[1] != "0":
        out.append(replace(q, value=float(digits[1:])))
    cents = round(v * 100)
    # (not under a dollar: "$0.60" and "sixty cents" are said so, never "sixty" meaning $60)
    if 1 <= v < 100 and abs(v * 100 - cents) < 1e-6 and cents % 100:
        out.append(replace(q, value=float(cents)))
    elif v == int(v) and 100 <= v < 10000 and int(v) % 100:
        out.append(replace(q, value=v / 100))
    return out


def echoes(q: Quantity, lead: Sequence[Quantity]) -> bool:
    """Is the rep repeating the lead's own number? The same value of the same sort
    of thing ("60 months is five years" - "and recordings are kept for 60 days" is
    not an echo; "so fifty devices then" after "about 50" is)."""
    return any(e.value == q.value and (e.kind == q.kind or "bare" in (e.kind, q.kind))
               and not (e.kind == q.kind == "duration" and e.unit != q.unit) for e in lead)


def spread(q: Quantity, lead: Sequence[Quantity], qs: Sequence[Quantity]) -> bool:
    """Is an amount the lead's own amount spread over (or times) a count or term
    the rep says beside it? ("I'm looking at the $960 one" - "over 24 months at 0%,
    so that's $40 a month for the phone": the rep's arithmetic, not a KB price.)"""
    return q.kind == "money" and any(
        e.kind in ("money", "bare") and e.value > 0 and c is not q and c.value > 1
        and (about_same(q.value, e.value / c.value) or about_same(q.value, e.value * c.value))
        for e in lead for c in qs if c.kind in ("count", "duration", "bare"))


def measured(q: Quantity, measures: Sequence[Quantity]) -> bool:
    """Is the rep coming back to a measure the customer gave earlier in the call
    ("the back line is about 120 feet" ... "so 120 feet is $4,080")? The same count
    of the same unit: long after it was said, "3 visits" is not "3 dogs"."""
    return any(e.kind == q.kind == "count" and e.unit == q.unit and e.value == q.value for e in measures)


def cents_pairs(text: str, qs: list[Quantity]) -> tuple[list[Quantity], set[int]]:
    """"forty-nine ninety-nine a month for the first term, then it renews at sixty-nine
    ninety-nine": the second price is left as two bare numbers ("69 99"). In a
    sentence that states a price, a number with two more digits after it is a price
    in dollars and cents, at the same rate as the one stated. Returns the numbers
    and the ids of those read so (a reading, not what was said outright)."""
    price = next((q for q in qs if q.kind == "money"), None)
    if price is None:
        return qs, set()
    out: list[Quantity] = []
    paired: set[int] = set()
    skip = -1
    for i, q in enumerate(qs):
        if i == skip:
            continue
        nxt = qs[i + 1] if i + 1 < len(qs) else None
        if nxt is not None and q.kind == nxt.kind == "bare" and q.value == int(q.value) and 1 <= q.value < 100 \
                and text[q.end:nxt.start] == " " and re.fullmatch(r"\d\d", text[nxt.start:nxt.end]):
            q = replace(q, value=q.value + nxt.value / 100, kind="money", unit=price.unit, per=price.per,
                        end=nxt.end)
            paired.add(id(q))
            skip = i + 1
        out.append(q)
    return out, paired


REPAIR = re.compile(r"\b(?:sorry|i mean|i meant|scratch that|correction|no wait|wait no|actually|rather|"
                     r"my mistake|my bad|let me correct|i misspoke|misspoke|mis-spoke|i said that wrong|"
                     r"that'?s not right|that'?s wrong|pardon me|excuse me|strike that|let me rephrase)\b", re.I)


def computed(q: Quantity, qs: Sequence[Quantity]) -> bool:
    """The number is the sum, difference or product of two others the rep just said."""
    others = [o.value for o in qs if o is not q and o.value and o.start < q.start]
    return any(same_amount(q.value, v) for i, a in enumerate(others) for b in others[i + 1:]
               for v in (a * b, a + b, abs(a - b)))


def retracted(text: str, q: Quantity, later: Sequence[Quantity]) -> bool:
    """The rep takes the number back within the sentence: a repair marker, then
    another amount of the same kind ("two exams a year sorry three exams a year")."""
    return any((o.kind == q.kind and o.unit == q.unit or "bare" in (o.kind, q.kind))
               and REPAIR.search(text[q.end:o.start]) for o in later)


TIME_UNITS = {"", "minute", "hour", "day", "week", "month", "quarter", "year"}


def head_word(text: str, q: Quantity) -> str:
    """The noun a number is about: the first content word right after it
    ("$500 deductible", "25 devices"), else the one right before ("a deductible of $500")."""
    if q.kind == "count" and q.unit:
        return q.unit                  # "8 students": what is counted is what it is about
    rest = re.split(r"[,;:.!?]|\s-\s|\b(?:and|but|so|because)\b", text[q.end:], maxsplit=1)[0]
    per = set(content_words(q.per))      # ("$0.60 a square foot": the rate's basis, not its subject)
    after = [w for w in content_words(rest)[:2] if w not in UNIT_WORDS and w not in per and not w[:1].isdigit()
             and not w.endswith("ly")]
    if after:
        return after[0]
    lead = re.split(r"[,;:.!?]|\s-\s|\b(?:and|but|so|because)\b", text[:q.start])[-1]
    before = [w for w in content_words(lead) if w not in UNIT_WORDS and not w[:1].isdigit() and not w.endswith("ly")]
    return before[-1] if before else ""


def heads(text: str, q: Quantity) -> list[str]:
    """The candidate nouns of a number: the unit it counts, the two content words
    after it in its clause and the one before it."""
    bounds = r"[,;:.!?]|\s-\s|\b(?:and|but|so|because)\b"
    rest = re.split(bounds, text[q.end:], maxsplit=1)[0]
    lead = re.split(bounds, text[:q.start])[-1]
    keep = [w for w in content_words(rest)[:2] + content_words(lead)[-1:]
            if w not in UNIT_WORDS and not w[:1].isdigit() and not w.endswith("ly")]
    return ([q.unit] if q.kind == "count" and q.unit else []) + keep


def stem(word: str) -> str:
    stem = re.sub(r"(?:ing|ed|es|s|e)$", "", word)
    return stem if len(stem) >= 3 else word


def period(q: Quantity) -> str:
    return next((p for p in q.per.split("/") if p in TIME_UNITS and p), "")


def num_text(v: float) -> str:
    return str(int(v)) if v == int(v) else f"{v:g}"


def comparable_pair(q: Quantity, fq: Quantity, fact: Fact) -> bool:
    """Same kind of quantity (quantities.comparable decides units and rates);
    across kinds only a bare number the rep said against a count ("twenty's
    fine" vs "up to 25 devices") or a product's price ("the Essential comes in
    at 12,900" vs "$14,900"). "$25 a month" is never compared with "aged 16"."""
    if q.kind == fq.kind == "money" and bool(period(q)) != bool(period(fq)):
        return False          # a monthly premium is not a one-off amount ("$1,000 deductible")
    if q.kind == fq.kind == "money" and q.bound == "min" and not fq.bound:
        return False          # "once you earn $50,000 or more" is a threshold, not a price
    if (q.bound == "min" and is_window(fq)) or (fq.bound == "min" and is_window(q)):
        return False          # "after the 6-month minimum" is not "within the first 14 days"
    if q.kind == fq.kind == "count" and period(q) != period(fq) and not (
            q.bound == fq.bound == "max" and not period(q)):
        return False          # "20 lessons" in all is not "1 lesson a week" (but "covers up to 500
                              # transactions" is the plan's limit of "up to 600 transactions per month")
    if q.bound == "max" and not fq.bound and (q.kind == "count" or fact.kind == "price"):
        return False          # "up to 12 cameras" (a capacity) is not "includes two cameras"
    if q.kind == fq.kind:
        return comparable(q, fq)
    return q.kind == "bare" and fq.kind in ("count", "money")



def is_window(q: Quantity) -> bool:
    return q.bound == "max" or "within" in q.context


def per_things(q: Quantity) -> set[str]:
    return set(q.per.split("/")) - TIME_UNITS


def same_rate_basis(q: Quantity, fq: Quantity, qs: Sequence[Quantity]) -> bool:
    """$200 a month is not comparable with $25 per user per month - unless
    the claim also names a count it multiplies out from (8 users)."""
    if q.kind != "money" or fq.kind != "money" or per_things(q) == per_things(fq):
        return True
    # "1,000 dollars" for "$1,000 per claim" compares; "24 a month" for "$12 per user
    # per month" is a total, which only compares when the claim says how many
    return not per_things(q) and (not period(q) or any(
        c.kind in ("count", "bare") and c is not q and c.value > 1 for c in qs))


def multiplies(q: Quantity, fq: Quantity, c: Quantity) -> bool:
    return c.kind in ("count", "bare") and c is not q and about_same(c.value * fq.value, q.value)


def consistent(q: Quantity, fq: Quantity, qs: Sequence[Quantity] = ()) -> bool:
    if same_quantity(q, fq):
        return True
    if q.kind == fq.kind == "money" and per_things(q) != per_things(fq):
        counts = [c for c in qs if c.kind in ("count", "bare") and c is not q and c.value > 1]
        if counts:
            return any(multiplies(q, fq, c) for c in counts)
        return about_same(q.value, fq.value)
    if q.bound:
        return False               # "tops out at 50" states the limit itself
    if fq.bound == "max" and q.kind in ("count", "bare") and q.value <= fq.value:
        return True                # 15 devices is fine on a plan for up to 25
    if fq.bound == "min" and q.kind == "bare" and fq.kind == "money":
        return q.value >= fq.value     # "one sixty-nine" against "from $189": a price below the floor
    if fq.bound == "min" and q.kind in ("count", "bare") and (q.value >= fq.value or not q.bound):
        return True                # "at 50 seats or more" is a threshold: 40 seats is below it, not wrong
    if fq.bound and q.kind == fq.kind == "money" and period(q) == period(fq) and (
            q.value >= fq.value if fq.bound == "min" else q.value <= fq.value):
        return True                # "from $59.99 a month": a bigger unit at $169 is no contradiction
    if q.kind == fq.kind == "duration" and fq.bound == "min" and comparable(q, fq):
        return days(q) >= days(fq)   # "6 to 7 hours" is fine with a three-hour minimum (but
                                       # "14 days to cancel" is not a 30-day window)
    return False


def q_text(q: Quantity) -> str:
    v = int(q.value) if q.value == int(q.value) else q.value
    unit = {"USD": "$"}.get(q.unit, q.unit)
    if q.kind == "money":
        return f"{unit}{v}" + (f" per {q.per}" if q.per else "")
    if q.kind == "percent":
        return f"{v}%"
    if q.kind == "date":
        return f"{q.unit.capitalize()} {v}"
    if q.kind == "duration" and v != 1:
        unit += "s"
    return f"{v} {unit}".strip()


# where a list of values splits into its items: "A Classic suite is $68 per night, | and a
# Deluxe suite, | with a private patio | and a webcam, | is $95 per night"
_PART_END = re.compile(r"[;:()]|[,.](?!\d)|\s(?:and|or|but|while|whereas|plus)\s", re.I)
_PART_STOP = frozenset("get gets cost costs is are per each price priced pay".split())


# an item named by a number ("Level 2", "tier three", "Zone 1"): the number is its name, kept as
# one word ("level2") where the piece's digits are otherwise dropped
# (and "class 2", "grade 3", which the lexicon leaves numbers: "grade 5 and up" may be a limit)
_LABELLED = re.compile(rf"\b({ITEM_NOUNS}|class|grade)\s+(\d{{1,2}}|one|two|three|"
                       r"four|five|six|seven|eight|nine|ten)\b(?![.,]\d)", re.I)
_SMALL = {w: str(n) for w, n in {**UNITS, **TEENS}.items() if n <= 10}     # the lexicon's "zero" to "ten"


def _labels(piece: str) -> set[str]:
    return {m.group(1).lower() + _SMALL.get(m.group(2).lower(), m.group(2)) for m in _LABELLED.finditer(piece)}


def value_parts(text: str, qs: Sequence[Quantity]) -> list[set[str]]:
    """The words each number of a sentence is said with: the sentence split at
    commas and list words, and a piece without a number of its own given to
    the next number (the item is usually named before its value); pieces after
    the last number are another clause ("..., and then the balance at
    installation"; "..., and it is waived on the Estate plan"). Numbers in one
    piece share it; the numbers' own units are no item ("$68 per night" and
    "$95 per night" are two suites).

    A fact that prices two items in one sentence ("15% off aligner treatment
    and 20% off whitening") binds each value to its item this way, so "20%
    off aligner treatment" is not excused by the whitening's 20%."""
    marks = list(_PART_END.finditer(text))
    cuts = [0] + [m.end() for m in marks] + [len(text)]
    joins = {m.end(): m.start() for m in marks if m.group(0).strip().lower() in ("or", "and")}
    pieces = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    out: list[set[str]] = [set() for _ in qs]
    waiting: set[str] = set()
    for a, b in pieces:
        words = (set(content_words(re.sub(r"\d[\d,.]*", " ", text[a:b]))) | _labels(text[a:b])) - _PART_STOP - UNIT_WORDS
        here = [i for i, q in enumerate(qs) if a <= q.start < b]
        if not here:
            # "$25 per mattress or box spring, $15 per tire": an "or" right after a number's
            # own rate goes on naming that number's item, not the next one's
            prev = [i for i, q in enumerate(qs) if a in joins and q.per and q.end == joins[a]]
            if prev:
                out[prev[0]] |= words
            else:
                waiting |= words
            continue
        for i in here:
            out[i] |= words | waiting
        waiting = set()
    # the numbers' own units are no item where they share them ("$68 per night" and "$95 per
    # night" are two suites); a rate per a thing only one of them has names its item
    # ("$25 per mattress, $15 per tire")
    seen = Counter(w for q in qs for w in set(content_words(f"{q.unit} {q.per}")))
    shared = {w for w, n in seen.items() if n >= 2}
    units = shared | set(content_words(" ".join(q.unit for q in qs)))
    return [w - units for w in out]


def item_words(text: str, qs: Sequence[Quantity]) -> list[set[str]]:
    """A fact's value_parts less its subject: what the sentence says before its
    first number is about all of its values ("Members get 15% off aligner
    treatment and 20% off whitening": members get both; "We buy back stairlifts
    we installed, paying 40% ... and 25% ...": both are buy-back rates)."""
    if not qs:
        return []
    subject = set(content_words(text[:min(q.start for q in qs)]))
    return [w - subject for w in value_parts(text, qs)]


def bound_value(said_words: set[str], parts: Sequence[set[str]], rivals: Sequence[int],
                common: frozenset[str] | set[str] = frozenset()) -> int | None:
    """Which of a fact's values (indices `rivals`, comparable with what was said) the
    rep's words name: the one whose own words (its item_words no other rival has)
    meet the rep's - in two words, or in one the KB does not use everywhere (not in
    `common`: "clean" names no item in a cleaning company's KB) - while no other
    rival's words do. None when the fact's values can't be told apart by words (a
    list: "Bronze, Silver and Gold are 19, 29 and 49"), or the rep's words touch
    more than one ("storm call-outs are 150 for members" against "the call-out fee
    is $275 for non-members and $150 for members")."""
    if len(rivals) < 2:
        return None
    own = {i: parts[i] - set().union(*(parts[j] for j in rivals if j != i)) for i in rivals}
    # (the noun a list of three or more is a list of names none of its items: "a Senior Stylist is
    # $110" against "$65 with a Stylist, $85 with a Senior Stylist, $110 with a Master Stylist"
    # names the $85 by "senior" alone; with two, a word of the other's may be the other's by
    # ellipsis: "cooler setup within 5 business days of signing, and installation within 10")
    kind = set.intersection(*(set(parts[i]) for i in rivals)) if len(rivals) >= 3 else set()
    named = [i for i in rivals if (len(hit := own[i] & said_words) >= 2 or hit - common)
             and not any((parts[j] - kind) & said_words for j in rivals if j != i)]
    return named[0] if len(named) == 1 else None
