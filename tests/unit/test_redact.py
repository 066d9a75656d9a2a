"""Redaction of personal data in what people say (intervene/nlp/redact.py, issue 15).

Positives as Whisper writes them (digits, words, mixtures, "oh", "double",
split over two utterances); negatives are the prices, dates and quantities
the claim checker needs intact - a false redaction breaks a price check."""
from __future__ import annotations

import json
import pathlib

import pytest

from intervene.config import ConfigError, load_config
from intervene.config.privacy import redaction_kinds, retention_options
from intervene.nlp.redact import luhn, mask_phone, redact, redact_lines
from intervene.vocab import REDACT_ALL, Redact

ROOT = pathlib.Path(__file__).resolve().parents[2]
CARD, CVV, EXP, SSN, BANK = "[card number]", "[security code]", "[expiry date]", "[ssn]", "[bank account]"


@pytest.mark.parametrize("text, want", [
    # cards: digits, dashes, words, mixtures, "oh", "double"
    ("my card number is 4111 1111 1111 1111", f"my card number is {CARD}"),
    ("4111111111111111", CARD),
    ("It's 4111-1111-1111-1111.", f"It's {CARD}."),
    ("sure it's 5555 5555 5555 4444 thanks", f"sure it's {CARD} thanks"),
    ("four one one one, one one one one, one one one one, one one one one.", f"{CARD}."),
    ("four one one one one one one one one one one one one one one one", CARD),
    ("Four one one one. One one one one. One one one one. One one one one.", f"{CARD}."),
    ("it's 4111 one one one one 1111 double one double one", f"it's {CARD}"),
    ("four one one one dash one one one one dash one one one one dash one one one one", CARD),
    ("three seven eight two eight two two four six three one double oh oh five", CARD),   # Amex 378282246310005
    ("378282246310005", CARD),
    ("Yeah, it's, uh, 6011 1111 1111 1117, I think.", f"Yeah, it's, uh, {CARD}, I think."),
    ("card number 4111 1111 1111 1112", f"card number {CARD}"),            # Luhn fails, "card number" says so
    ("my visa is 4111 1111 1111 1112", f"my visa is {CARD}"),
    ("my card number is four one one one one one one one", f"my card number is {CARD}"),   # first half
    # security code and expiry after a card
    ("4111 1111 1111 1111 and the code on the back is 123", f"{CARD} and the code on the back is {CVV}"),
    ("4111 1111 1111 1111, security code seven three nine", f"{CARD}, security code {CVV}"),
    ("CVV is 1234", f"CVV is {CVV}"),
    ("4111 1111 1111 1111, expires 04/27.", f"{CARD}, expires {EXP}."),
    ("4111 1111 1111 1111, expires oh four twenty seven", f"{CARD}, expires {EXP}"),
    ("4111 1111 1111 1111 expiration date is April twenty twenty seven", f"{CARD} expiration date is {EXP}"),
    ("4111 1111 1111 1111, exp 12 26, cvc 321", f"{CARD}, exp {EXP}, cvc {CVV}"),
    # SSNs
    ("my social security number is 123 45 6789", f"my social security number is {SSN}"),
    ("it's 123-45-6789", f"it's {SSN}"),
    ("SSN one two three four five six seven eight nine", f"SSN {SSN}"),
    ("one two three dash four five dash six seven eight nine", SSN),
    ("my social is 123456789", f"my social is {SSN}"),
    ("the last four of my social is 6789", f"the last four of my social is {SSN}"),
    # bank accounts
    ("my account number is 12345678", f"my account number is {BANK}"),
    ("routing number 021000021 and account number 000123456789",
     f"routing number {BANK} and account number {BANK}"),
    ("sort code 12-34-56", f"sort code {BANK}"),
    ("my IBAN is GB29 NWBK 6016 1331 9268 19", f"my IBAN is {BANK}"),
    ("DE89370400440532013000", BANK),
])
def test_redacts(text: str, want: str) -> None:
    assert redact(text) == want


@pytest.mark.parametrize("text", [
    "It's forty-nine ninety-nine a month.",
    "That's $49.99 a month for twelve months.",
    "The Standard plan is 29 dollars and Pro is 49.",
    "twenty nine ninety nine, thirty nine ninety nine, or forty nine ninety nine",
    "We've had 2,300 customers since 2019.",
    "price locked through 2024, then 2025 pricing applies",
    "The contract is 24 months, with 3 lines at 15 each.",
    "that's one thousand two hundred dollars a year",
    "It's 1299 a year, or 129 a month.",
    "twelve ninety nine a year",
    "call me at 555 123 4567",
    "call me at 555-123-4567",
    "my number is +1 415 555 2671",
    "The promotion expires March 31.",
    "the offer expires on the 31st of December 2025",
    "we take visa and mastercard, and the plan is 4999 a year",
    "we take visa, the plan is 4999",
    "what's your card number? the plan is 2999",
    "the code is SAVE20, which takes 20 percent off",
    "your account is 30 days past due, the balance is 240",
    "the order number is 100234 and it ships in 3 days",
    "it has 16 GB, 512 GB storage, 4 cores, 2 ports",
    "From 9 to 5, Monday to Friday, 365 days a year.",
    "on 12/31/2024 the rate goes to 19.99",
    "one, two, three, four, five and six are all included",
    "Oh, oh, I see, one or two of them.",
    "the security system costs 1299 installed",
    "it's 24/7 support with a 99.9% uptime",
    "The 2023 model, the 2024 model and the 2025 model.",
    "version 4.1.1 and 1.1.1",
    "It was 4 1 1 1 in the morning",
])
def test_keeps_prices_dates_quantities(text: str) -> None:
    assert redact(text) == text


def test_split_over_two_utterances_of_one_speaker() -> None:
    first = redact("my card number is four one one one one one one one")
    assert first == f"my card number is {CARD}"
    assert redact("one one one one one one one one", previous=first) == CARD
    assert redact("one one one one one one one one", previous="my card number is four one one one one one one one") == CARD
    assert redact("4111 1111", previous="my card number is") == CARD
    # the expiry and the code after a card said the utterance before
    assert redact("expires oh four twenty seven", previous=CARD) == f"expires {EXP}"
    assert redact("and the code on the back is 321", previous=f"it's {CARD}") == f"and the code on the back is {CVV}"
    # without a card before, an "expires" date or a "code" is left alone
    assert redact("expires oh four twenty seven") == "expires oh four twenty seven"
    assert redact("the code on the back is 123") == "the code on the back is 123"


def test_the_nearest_topic_decides() -> None:
    """A card said before does not make an SSN (switched off) a card number."""
    assert redact("my social is 123-45-6789", REDACT_ALL - {Redact.SSN}, previous=CARD) == "my social is 123-45-6789"
    assert redact("my social is 123-45-6789", previous=CARD) == f"my social is {SSN}"


def test_redact_lines_carries_context_per_speaker() -> None:
    lines = [("lead", "my card number is four one one one one one one one"),
             ("rep", "okay, go on, twelve months at 49"),
             ("lead", "one one one one one one one one"),
             ("rep", "and the expiry?"),
             ("lead", "expires oh four twenty seven")]
    assert redact_lines(lines) == [f"my card number is {CARD}", "okay, go on, twelve months at 49", CARD,
                                   "and the expiry?", f"expires {EXP}"]


def test_kinds_switch_off_one_by_one() -> None:
    text = "4111 1111 1111 1111, cvv 123, and my ssn is 123-45-6789"
    assert redact(text, frozenset()) == text
    assert redact(text, frozenset({Redact.SSN})) == "4111 1111 1111 1111, cvv 123, and my ssn is [ssn]"
    assert redact(text, REDACT_ALL - {Redact.SSN}) == f"{CARD}, cvv {CVV}, and my ssn is 123-45-6789"


def test_luhn_and_mask_phone() -> None:
    assert luhn("4111111111111111") and luhn("378282246310005") and not luhn("4111111111111112")
    assert mask_phone("+15551234567") == "+*********67"


def test_no_labelled_call_changes() -> None:
    """The 586 labelled and example calls (13,000+ utterances of prices,
    dates and plans) come through redaction unchanged: the claim checker
    sees exactly what it saw before."""
    files = sorted((ROOT / "kb" / "calls").glob("*.jsonl")) + sorted((ROOT / "tests" / "calls").rglob("*.jsonl"))
    assert len(files) > 100
    changed = []
    for f in files:
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
        for row, red in zip(rows, redact_lines([(r["speaker"], r["text"]) for r in rows])):
            if red != row["text"]:
                changed.append((f.name, row["text"], red))
    assert changed == []


# ------------------------------------------------------------------- config

def test_redaction_and_retention_config(tmp_path: pathlib.Path) -> None:
    assert redaction_kinds(None) == REDACT_ALL
    assert redaction_kinds({"ssn": False}) == REDACT_ALL - {Redact.SSN}
    assert retention_options({"transcripts": 90, "leads": 0}).transcripts == 90.0
    cfg = tmp_path / "c.toml"
    cfg.write_text("[redaction]\ncard = false\n[retention]\ntranscripts = 30\nwebhook_inbox = 7\n")
    c = load_config(cfg)
    assert Redact.CARD not in c.redaction and Redact.SSN in c.redaction
    assert c.retention.transcripts == 30 and c.retention.webhook_inbox == 7 and c.retention.leads == 0
    assert load_config(None).redaction == REDACT_ALL
    for bad, words in (("[redaction]\ncards = false\n", "unknown kind `cards`"),
                       ("[redaction]\ncard = 1\n", "must be true or false"),
                       ("[retention]\ntranscripts = -1\n", "0 or more"),
                       ("[retention]\ncalls = 3\n", "unknown key `calls`")):
        cfg.write_text(bad)
        with pytest.raises(ConfigError, match=words):
            load_config(cfg)
