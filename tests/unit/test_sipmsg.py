"""Cards as SIP MESSAGE texts: the text (pure) and the ARI request (a stand-in
ARI). The card sent through a real Asterisk to a phone: tests/e2e/test_sipmsg_phone.py."""
from __future__ import annotations

import asyncio

import pytest

from intervene.pbx.sipmsg import ELLIPSIS, LABELS, card_text, from_uri, send_message, split_endpoint

CARD = {
    "category": "accuracy", "severity": "high",
    "detected": "Rep said Standard includes two years of support; the KB says three.",
    "say": "Standard actually includes three years of support.",
    "evidence": [{"kb_id": "standard.support", "text": "Standard package: 3 years of support included."},
                 {"kb_id": "premium.support", "text": "Premium: 5 years."}],
}


# ---- card_text -----------------------------------------------------------------------------

def test_card_text_format():
    assert card_text(CARD) == ("[Factual error] Say: Standard actually includes three years of support. "
                               "| KB: Standard package: 3 years of support included.")


@pytest.mark.parametrize("category,label", [
    ("accuracy", "Factual error"), ("emotion", "Emotional shift"), ("momentum", "Stalled conversation"),
    ("opportunity", "Missed opportunity"), ("competitive", "Competitor"), ("compliance", "Compliance"),
    ("process", "Process step")])
def test_card_text_labels(category, label):
    assert card_text({**CARD, "category": category}).startswith(f"[{label}] Say: ")
    assert LABELS[category] == label


def test_card_text_accepts_enum_category():
    from intervene.vocab import Category
    assert card_text({**CARD, "category": Category.COMPETITIVE}).startswith("[Competitor] ")


def test_card_text_evidence_optional():
    for ev in (None, [], [{"kb_id": "x", "text": "  "}]):
        card = {**CARD, "evidence": ev}
        assert card_text(card) == "[Factual error] Say: Standard actually includes three years of support."
    no_key = {k: v for k, v in CARD.items() if k != "evidence"}
    assert "KB:" not in card_text(no_key)


def test_card_text_without_say_uses_detected():
    text = card_text({"category": "emotion", "severity": "medium", "say": "",
                      "detected": "Lead sounds frustrated about the price.", "evidence": []})
    assert text == "[Emotional shift] Lead sounds frustrated about the price."


def test_card_text_single_line():
    card = {**CARD, "say": "Line one.\nLine two.\r\n\tIndented.",
            "evidence": [{"kb_id": "k", "text": "KB\nfact\u2028here"}]}
    text = card_text(card)
    assert "\n" not in text and "\r" not in text and "\t" not in text and "\u2028" not in text
    assert text == "[Factual error] Say: Line one. Line two. Indented. | KB: KB fact here"


@pytest.mark.parametrize("limit", [40, 61, 80, 100, 120, 300])
def test_card_text_truncates_on_word_boundary(limit):
    card = {**CARD, "say": " ".join(["wordy"] * 40) + " end.", "evidence": [{"kb_id": "k", "text": "x " * 200}]}
    full = card_text(card, limit=10_000)
    text = card_text(card, limit=limit)
    assert len(text) <= limit
    assert text.endswith(ELLIPSIS)
    body = text[:-len(ELLIPSIS)]
    assert full.startswith(body)
    assert full[len(body)] == " "                 # the cut is at a word boundary
    assert not body.endswith((" ", "|"))


def test_card_text_short_enough_is_untouched():
    text = card_text(CARD)
    assert card_text(CARD, limit=len(text)) == text
    cut = card_text(CARD, limit=len(text) - 1)
    assert len(cut) <= len(text) - 1 and cut.endswith(ELLIPSIS)
    assert cut == "[Factual error] Say: Standard actually includes three years of support. | KB: Standard " \
                  "package: 3 years of support" + ELLIPSIS


def test_card_text_one_long_word_is_cut_hard():
    text = card_text({"category": "process", "say": "x" * 500}, limit=50)
    assert len(text) == 50 and text.endswith("x" + ELLIPSIS)


def test_card_text_bad_limit():
    with pytest.raises(ValueError):
        card_text(CARD, limit=0)


# ---- endpoint / sender ---------------------------------------------------------------------

def test_split_endpoint():
    assert split_endpoint("PJSIP/rep1") == ("PJSIP", "rep1")
    assert split_endpoint("pjsip/rep-7") == ("pjsip", "rep-7")
    for bad in ("rep1", "PJSIP/", "/rep1", "PJSIP/rep1/sip:rep1@10.0.0.1", "PJSIP/rep1&PJSIP/rep2",
                "sip:rep1@127.0.0.1", "PJSIP/rep 1", "", "PJ SIP/rep1"):
        with pytest.raises(ValueError, match="TECH/RESOURCE"):
            split_endpoint(bad)


def test_from_uri():
    assert from_uri("intervene") == "intervene"
    assert from_uri("intervene@pbx.example.com") == "sip:intervene@pbx.example.com"
    assert from_uri("sip:intervene@127.0.0.1") == "sip:intervene@127.0.0.1"
    assert from_uri('"Intervene" <sip:intervene@127.0.0.1>') == '"Intervene" <sip:intervene@127.0.0.1>'
    for bad in ("", "  ", "pjsip:intervene", '"Intervene" <intervene>', "two words", "a\nb"):
        with pytest.raises(ValueError):
            from_uri(bad)


def test_send_message_rejects_bad_endpoint_before_calling_ari():
    class NoAri:
        async def call(self, *a, **kw):
            raise AssertionError("ARI must not be called")

    with pytest.raises(ValueError, match="TECH/RESOURCE"):
        asyncio.run(send_message(NoAri(), "rep1", "hi", "intervene"))


def test_send_message_request():
    seen = []

    class FakeAri:
        async def call(self, method, path, body=None, **params):
            seen.append((method, path, body, params))

    asyncio.run(send_message(FakeAri(), "PJSIP/rep7", "hello", "intervene", variables={"X-Card": 3}))
    assert seen == [("PUT", "/endpoints/PJSIP/rep7/sendMessage",
                     {"from": "intervene", "body": "hello", "variables": {"X-Card": "3"}}, {})]
