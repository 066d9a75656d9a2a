"""Helpers shared by the claim checker's tests: a checker for a KB made up in a
test, and the verdicts that would reach the rep (a card) or the call (the voice)."""
from __future__ import annotations

from intervene.core.detect.claims import ClaimChecker
from intervene.core.policy import PROFILES
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb_text
from intervene.vocab import Verdict

VOICE = PROFILES["standard"].accuracy_voice_min
CARD = PROFILES["standard"].accuracy_card_min

_MADE_UP: dict[str, tuple[str, ClaimChecker]] = {}


def checker_of(kb_text: str, name: str, embedder) -> ClaimChecker:
    """A checker for a small KB made up in a test, built once per session. A
    name given to two different KBs is an error, not the first KB's checker
    (which silently made one test check another test's KB)."""
    if name not in _MADE_UP:
        _MADE_UP[name] = (kb_text, ClaimChecker(KBIndex(load_kb_text(kb_text, source=name), embedder)))
    text, checker = _MADE_UP[name]
    if text != kb_text:
        raise ValueError(f"checker_of: the name {name!r} is already used by another made-up KB")
    return checker


def errors(checker: ClaimChecker, text: str, context: str | None = None, prior: str = "") -> list[Verdict]:
    return [v for v in checker.check(text, context, prior=prior).verdicts if not v.ok]


def shown(vs: list[Verdict]) -> list[Verdict]:
    """Errors that would reach the rep at all (a card or the voice)."""
    return [v for v in vs if v.confidence >= CARD]


def spoken(vs: list[Verdict]) -> list[Verdict]:
    return [v for v in vs if v.confidence >= VOICE]
