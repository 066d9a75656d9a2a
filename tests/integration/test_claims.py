"""ClaimChecker.check on many phrasings of the rep's claims, against the
example KBs: errors must be found and corrected with the KB's value, correct
statements, paraphrases and non-claims must pass."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pytest

from intervene.nlp.lexicon import extract_quantities, normalize_numbers
from intervene.vocab import Verdict


@dataclass(frozen=True)
class Case:
    kb: str
    text: str
    error: bool                        # a verdict with ok=False expected?
    contains: tuple[str, ...] = ()     # each must appear in that error's correction
    context: Optional[str] = None      # product under discussion before the utterance
    evidence: Optional[str] = None     # kb_id the error's evidence must cite
    echoed: str = ""                   # what the lead just said (their numbers, if the rep repeats them)


def case(id: str, *a, xfail: str = "", **kw):
    marks = [pytest.mark.xfail(strict=True, reason=f"LIMITATION: {xfail}")] if xfail else []
    return pytest.param(Case(*a, **kw), id=id, marks=marks)


E, OK = True, False

CASES = [
    # ------------------------------------------------------------- acme prices
    case("price-words-right", "acme", "The Standard package is forty-nine dollars a month.", OK),
    case("price-digits-right", "acme", "The Standard package is $49 a month.", OK),
    case("price-bucks-right", "acme", "Standard is 49 bucks a month.", OK),
    case("price-bucks-monthly-right", "acme", "Standard is forty-nine bucks monthly.", OK),
    case("price-alias-right", "acme", "So the basic one is forty nine dollars a month.", OK),
    case("price-context-right", "acme", "It's forty-nine dollars a month.", OK, context="standard"),
    case("price-words-wrong", "acme", "The Standard package is thirty-nine a month.", E, ("$49",),
         evidence="standard"),
    case("price-digits-wrong", "acme", "The Standard package is $39 a month.", E, ("$49",)),
    case("price-bucks-wrong", "acme", "Standard is 59 bucks a month.", E, ("$49",)),
    case("price-context-wrong", "acme", "It's thirty-nine a month.", E, ("$49",), context="standard"),
    case("premium-price-right", "acme", "Premium is eighty-nine dollars a month.", OK),
    case("premium-price-wrong", "acme", "Premium is $79 a month.", E, ("$89",)),
    case("premium-price-context-wrong", "acme", "It's forty-nine a month.", E, ("$89",), context="premium"),
    case("multisite-price-right", "acme", "The multi-site package is $39 per site per month.", OK),
    case("multisite-price-wrong", "acme", "The multi-site package is $49 per site per month.", E,
         ("$39 per site",)),
    # ------------------------------------------------------ acme support years
    case("support-two-years", "acme", "The Standard package includes two years of support.", E,
         ("three years",), evidence="standard"),
    case("support-three-years", "acme", "The Standard package includes three years of support.", OK),
    case("support-36-months-words", "acme", "The Standard package includes thirty-six months of support.", OK),
    case("support-36-months-digits", "acme", "The Standard package comes with 36 months of support.", OK),
    case("support-24-months", "acme", "The Standard package includes 24 months of support.", E, ("three years",)),
    case("support-paraphrase-lasts", "acme", "Support on Standard lasts three years.", OK),
    case("support-paraphrase-full-years", "acme", "Standard gives you support for three full years.", OK),
    case("premium-support-five", "acme", "Premium includes five years of support.", OK),
    case("premium-support-60-months", "acme", "Premium includes sixty months of support.", OK),
    case("premium-support-three", "acme", "Premium includes three years of support.", E, ("five years",)),
    case("premium-support-response", "acme",
         "Premium gives you five years of support with a four hour response time.", OK),
    # --------------------------------------------------------- refund window
    case("refund-fourteen-days", "acme", "You can cancel within fourteen days for a full refund.", E,
         ("30 days",), evidence="refund"),
    case("refund-two-weeks", "acme", "You get a full refund if you cancel within two weeks.", E, ("30 days",)),
    case("refund-sixty-days", "acme", "You can cancel within sixty days for a full refund.", E, ("30 days",)),
    case("refund-thirty-days", "acme", "You can cancel within 30 days for a full refund.", OK),
    case("refund-money-back-paraphrase", "acme",
         "If you cancel in the first thirty days you get all your money back.", OK),
    case("refund-a-month", "acme", "You can cancel within a month for a full refund.", OK),
    # --------------------------------------------------------- device limits
    case("premium-up-to-fifty", "acme", "Premium covers up to fifty devices.", E, ("100 devices",),
         evidence="premium"),
    case("premium-up-to-fifty-context", "acme", "It covers up to fifty devices.", E, ("100 devices",),
         context="premium"),
    case("premium-hundred-words", "acme", "The Premium package handles up to a hundred devices.", OK),
    case("premium-hundred-at-one-location", "acme",
         "Premium covers up to a hundred devices at one location.", OK),
    case("standard-fifteen-fine", "acme", "Fifteen devices is fine on Standard.", OK),
    case("standard-fifteen-fine-context", "acme", "Fifteen devices is fine on that plan.", OK, context="standard"),
    case("standard-twenty-five", "acme", "That covers up to twenty-five devices on Standard.", OK),
    case("standard-up-to-fifty", "acme", "Standard covers up to fifty devices.", E, ("25 devices",)),
    case("standard-tops-out", "acme", "Standard tops out at fifty devices.", E, ("25 devices",)),
    case("standard-limit-too-low", "acme", "Standard covers up to 10 devices.", E, ("25 devices",)),
    # ------------------------------------------------- features and negation
    case("standard-includes-onsite", "acme", "The standard package includes on-site installation.", E,
         ("does not include on-site installation", "Premium"), evidence="standard"),
    case("standard-comes-with-onsite", "acme", "The standard plan comes with on-site installation.", E,
         ("Premium",)),
    case("standard-technician-paraphrase", "acme",
         "On Standard, we send a technician to install everything on-site.", E, ("Premium",)),
    case("standard-excludes-onsite", "acme", "Standard doesn't include on-site installation.", OK),
    case("standard-excludes-onsite-thats-premium", "acme",
         "Standard does not include on-site installation, that's Premium.", OK),
    case("premium-excludes-onsite", "acme", "Premium doesn't include on-site installation.", E,
         ("on-site installation",)),
    case("premium-excludes-onsite-context", "acme", "It doesn't include on-site installation.", E,
         ("includes on-site installation",), context="premium", evidence="premium"),
    case("premium-excludes-onsite-cites-premium", "acme",
         "The Premium package does not come with on-site installation.", E,
         ("includes on-site installation",), evidence="premium"),
    case("premium-includes-onsite", "acme",
         "Premium includes on-site installation by a certified technician.", OK),
    case("standard-remote-setup", "acme", "The Standard package comes with remote setup and video guidance.", OK),
    case("premium-quarterly-review", "acme", "Premium has a quarterly optimization review.", OK),
    case("standard-quarterly-review", "acme", "The Standard package includes a quarterly optimization review.",
         E, ("Premium",)),
    case("setup-fee-wrong", "acme", "There's a $99 setup fee.", E, ("no setup fee",)),
    case("setup-fee-right", "acme", "There's no setup fee on any of our plans.", OK),
    case("support-hours-right", "acme", "Phone support is available 24/7.", OK),
    case("support-hours-wrong", "acme", "Phone support is available 12 hours a day.", E, ("24 hours",)),
    case("warranty-right", "acme", "The hardware has a two-year replacement warranty.", OK),
    case("warranty-wrong", "acme", "The hardware has a one-year replacement warranty.", E, ("two-year",)),
    case("contract-two-year", "acme", "You'd sign a two-year contract.", E, ("month-to-month",),
         xfail="a contract length is compared with the support duration "
               "('three years of support') instead of the month-to-month fact"),
    # --------------------------------------------------------- which product
    case("multisite-premium-features-context", "acme", "Each site gets the Premium features.", E,
         ("Standard",), context="multi-site", evidence="multi-site"),
    case("multisite-premium-features-named", "acme",
         "The multi-site package gives each site the Premium features.", E, ("Standard",)),
    case("multisite-every-site-premium", "acme", "Every site gets Premium features.", E, ("Standard",),
         context="multi-site"),
    case("multisite-with-clause-premium", "acme",
         "With the multi-site package, each site gets the Premium features.", E, ("Standard",)),
    case("multisite-standard-features", "acme", "Each site gets the Standard features.", OK, context="multi-site"),
    case("multisite-standard-features-dashboard", "acme",
         "Each location gets the Standard package features, managed from one dashboard.", OK,
         context="multi-site"),
    # ----------------------------------------------- product tracking by context
    case("context-standard-two-years", "acme", "That includes two years of support.", E, ("three years",),
         context="standard"),
    case("context-premium-two-years", "acme", "That includes two years of support.", E, ("five",),
         context="premium", evidence="premium"),
    case("context-premium-five-years", "acme", "That includes five years of support.", OK, context="premium"),
    case("context-premium-five-short", "acme", "Five years of support on that one.", OK, context="premium"),
    case("context-standard-five-short", "acme", "Five years of support on that one.", E, ("three years",),
         context="standard"),
    case("context-standard-three-years", "acme", "That includes three years of support.", OK, context="standard"),
    # ------------------------------------------------ two claims in one sentence
    case("two-claims-both-right", "acme",
         "The Standard package is forty-nine a month and includes three years of support.", OK),
    case("two-claims-one-wrong", "acme",
         "Standard is forty-nine a month, and it includes two years of support.", E, ("three years",)),
    # -------------------------------------------------------------- non-claims
    case("greeting", "acme", "Hi Dana, this is Mark from Acme, thanks for taking my call.", OK),
    case("greeting-how-are-you", "acme", "Good morning, how are you today?", OK),
    case("question-ten-devices-tops", "acme", "So maybe ten devices tops?", OK),
    case("question-ten-devices-tops-standard", "acme", "So maybe ten devices tops?", OK, context="standard"),
    case("question-how-many", "acme", "How many devices do you have right now?", OK),
    case("lead-number-around-fifty", "acme", "So around fifty.", OK, context="standard"),
    case("lead-number-around-fifty-q", "acme", "So around fifty?", OK, context="standard"),
    case("lead-number-echoed", "acme", "So fifty devices then.", OK, context="standard", echoed="About fifty, I think."),
    case("scheduling", "acme", "Would Tuesday at 3 work for a follow-up?", OK),
    case("callback-two-days", "acme", "I'll call you back in two days.", OK),
    case("sign-off", "acme", "Great, I'll email it over today.", OK),
    # ------------------------------------------------------------------ solar
    case("solar-apr-wrong", "solar", "Our financing is 4.99% APR over 20 years with no money down.", E,
         ("5.99%",), evidence="financing-apr"),
    case("solar-apr-words-wrong", "solar", "Financing is at six point nine nine percent APR.", E, ("5.99%",)),
    case("solar-apr-right", "solar", "Our financing is 5.99% APR over 20 years with no money down.", OK),
    case("solar-panels-essential-wrong", "solar", "The Essential package includes 12 panels.", E,
         ("15 panels",), evidence="essential-6kw"),
    case("solar-panels-plus-wrong", "solar", "The Plus package includes 25 panels.", E, ("20 panels",)),
    case("solar-panels-plus-right", "solar", "The Plus package includes twenty panels.", OK),
    case("solar-panels-essential-right", "solar", "The Essential package includes 15 panels of 400 watts each.", OK),
    case("solar-price-bare-wrong", "solar", "The Essential comes in at 12,900.", E, ("$14,900",)),
    case("solar-price-right", "solar", "The Essential is $14,900 before incentives.", OK),
    case("solar-essential-battery", "solar", "The Essential package includes a battery.", E,
         ("does not include a battery",)),
    case("solar-premium-install-weeks", "solar", "Installation on the Premium takes 6 to 8 weeks.", E,
         ("8 to 10 weeks",)),
    case("solar-essential-microinverter", "solar", "With the Essential, every panel gets its own microinverter.",
         E, ("string inverter",)),
    # ------------------------------------------------------------------- saas
    case("saas-growth-price-wrong", "saas", "Growth is $20 per user per month.", E, ("$25 per user",),
         evidence="growth"),
    case("saas-growth-price-words-wrong", "saas", "Growth is thirty dollars per user per month.", E,
         ("$25 per user",)),
    case("saas-growth-price-right", "saas", "Growth is $25 a user a month.", OK),
    case("saas-business-price-wrong", "saas", "Business is $55 per user per month.", E, ("$45 per user",)),
    case("saas-starter-price-right", "saas", "The Starter plan is $12 per user per month.", OK),
    case("saas-api-on-growth", "saas", "You get API access on Growth.", E, ("Business",)),
    case("saas-growth-includes-api", "saas", "The Growth plan includes API access.", E, ("Business",)),
    case("saas-api-on-growth-also", "saas", "On Growth you'd also get API access.", E, ("Business",)),
    case("saas-growth-no-api", "saas", "Growth doesn't include API access.", OK),
    case("saas-api-business-only", "saas", "API access is only in the Business tier.", OK),
    case("saas-8-users-200", "saas", "8 users on Growth comes to 200 a month.", OK),
    case("saas-8-users-200-dollars", "saas", "So for 8 users on Growth that's $200 a month.", OK),
    case("saas-10-users-250", "saas", "Ten users on Growth would be 250 a month.", OK),
    case("saas-8-users-240", "saas", "8 users on Growth comes to 240 a month.", E, ("$25 per user",)),
    case("saas-starter-users-wrong", "saas", "Starter supports up to 5 users.", E, ("3 users",)),
    case("saas-trial-wrong", "saas", "You can try any tier free for 30 days.", E, ("14 days",)),
    case("saas-annual-discount-wrong", "saas", "Paying annually gives you 25% off.", E, ("20%",)),
    case("saas-starter-multicurrency", "saas", "Starter includes multi-currency invoicing.", E, ("Growth",)),
    case("saas-starter-support-right", "saas",
         "Starter has email support with a one-business-day response time.", OK),
]


def errors(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.ok]


def describe(verdicts: list[Verdict]) -> str:
    return "\n".join(f"  {'ERR' if not v.ok else 'ok '} {v.reason} | {v.correction}" for v in verdicts) or "  (none)"


@pytest.mark.parametrize("c", CASES)
def test_claim(checker, c: Case) -> None:
    result = checker(c.kb).check(c.text, c.context, extract_quantities(normalize_numbers(c.echoed)))
    errs = errors(result.verdicts)
    if not c.error:
        assert not errs, f"{c.text!r} flagged:\n{describe(result.verdicts)}"
        return
    assert errs, f"{c.text!r} not flagged:\n{describe(result.verdicts)}"
    match = [v for v in errs if all(s.lower() in v.correction.lower() for s in c.contains)]
    assert match, f"no correction of {c.text!r} contains {c.contains}:\n{describe(errs)}"
    for v in match:
        assert v.correction.startswith("Quick clarification")
        assert v.evidence, v
        assert v.fact is not None and v.evidence[0].text == v.fact.text
    if c.evidence:
        assert any(e.kb_id == c.evidence for v in match for e in v.evidence), \
            f"evidence {[e.kb_id for v in match for e in v.evidence]} does not cite {c.evidence!r}"


def test_enough_cases() -> None:
    assert len(CASES) >= 40


# ----------------------------------------------------------- product tracking

@pytest.mark.parametrize("text, context, after", [
    ("The Premium package is eighty-nine a month.", None, "premium"),
    ("That includes two years of support.", "standard", "standard"),
    ("Compared with Standard, Premium covers up to 100 devices.", "standard", "premium"),
    ("Thanks for your time today.", "premium", "premium"),
    ("Thanks for your time today.", None, None),
    ("The multi site plan is managed from one dashboard.", None, "multi-site"),
])
def test_product_after(checker, text: str, context, after) -> None:
    assert checker("acme").check(text, context).product_after == after


def test_correction_is_a_kb_sentence(checker) -> None:
    """The words to say come from the KB fact, never from the rep's wrong value."""
    ck = checker("acme")
    (err,) = errors(ck.check("The Standard package includes two years of support.").verdicts)
    assert err.correction == "Quick clarification - the Standard package includes three years of support."
    assert "two" not in err.correction
    assert err.evidence[0].kb_id == "standard"
    assert err.evidence[0].text == "Includes three years of support."


def test_check_is_deterministic(checker) -> None:
    ck = checker("acme")
    a = ck.check("Premium covers up to fifty devices.", None)
    b = ck.check("Premium covers up to fifty devices.", None)
    assert [(v.ok, v.reason, v.correction) for v in a.verdicts] == \
           [(v.ok, v.reason, v.correction) for v in b.verdicts]


def test_speech_recognition_spellings_of_names_and_numbers(kb_index) -> None:
    """What Whisper writes: "Premiums 89" (no apostrophe), "our plus package"
    (no capitals), "8,9" for eighty-nine."""
    from intervene.nlp.lexicon import normalize_numbers
    acme, solar = kb_index("acme"), kb_index("solar")
    assert acme.mentioned_products("Premiums 89 a month covers up to 100 devices")[0][1] == "premium"
    assert acme.mentioned_products("Premium's the one with on-site install")[0][1] == "premium"
    # "essential" is a weak alias (an everyday word): lowercase, it names the plan only as a plan
    assert solar.mentioned_products("you'd be a great fit for our essential package")[0][1] == "essential-6kw"
    assert not solar.mentioned_products("it's essential to check the roof first")
    assert normalize_numbers("That's premium, 8,9 a month.") == "That's premium, 89 a month."
    assert normalize_numbers("19,800 before incentives, or 2, 3 panels") == "19800 before incentives, or 2, 3 panels"


def test_the_company_name_is_not_a_feature(kb_index) -> None:
    """"It's Noah from PeakForm", misheard as "It's no a from PeakForm", does
    not deny "members can use every PeakForm club"."""
    from intervene.core.detect.claims import ClaimChecker
    checker = ClaimChecker(kb_index("fitness"))
    assert not [v for v in checker.check("It's no a from PeakForm Fitness.", "plus", ()).verdicts if not v.ok]
    wrong = checker.check("Plus doesn't let you use every club, just your home club.", "plus", ()).verdicts
    assert [v for v in wrong if not v.ok]


def test_a_split_compound_is_heard_as_the_kbs_word(checker) -> None:
    """ASR writes "set up fee"; the KB says "setup fee": the claim is still checked."""
    ck = checker("acme")
    assert ck.reader.join_compounds("There's a set up fee on every plan.") == "There's a setup fee on every plan."
    assert ck.reader.join_compounds("We can set it up today.") == "We can set it up today."       # no KB word "setit"
    errs = errors(ck.check("There's a set up fee of ninety nine dollars on every plan.").verdicts)
    assert errs and errs[0].evidence[0].kb_id == "setup-fee"


def test_a_correction_never_names_a_product_that_only_shares_a_word(checker) -> None:
    """"setup fee" is not Standard's "remote setup": no "that comes with the Standard package"."""
    errs = errors(checker("acme").check("There's a setup fee of $99 on every plan.").verdicts)
    assert errs and all("comes with" not in v.correction for v in errs), [v.correction for v in errs]
