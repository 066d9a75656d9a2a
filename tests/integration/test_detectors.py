"""The detectors, end to end: small transcripts (parse_transcript) replayed
through CallEngine under the three profiles."""
from __future__ import annotations

import pytest

from intervene.core.detect.emotion import EmotionDetector
from intervene.core.detect.phrases import asks_same, lexical_hit, numbers_agree, spans_agree, told
from intervene.core.detect.signals import ComplianceDetector, OpportunityDetector, RequiredDetector, promotion_for
from intervene.core.detect.state import CallState
from intervene.core.policy import PROFILES
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb_text
from intervene.nlp.lexicon import content_words, normalize_numbers
from intervene.vocab import Category, Intervention, Severity, Speaker, Utterance

C = Category


def of(ivs: list[Intervention], category: Category) -> list[Intervention]:
    return [iv for iv in ivs if iv.category == category]


def dump(ivs: list[Intervention]) -> str:
    return "\n".join(f"  {iv.at} u{iv.utterance} {iv.category.value}/{iv.trigger} {iv.detected[:90]!r}"
                     for iv in ivs) or "  (none)"


# ------------------------------------------------------------------ emotion

FRUSTRATION = [
    (0.0, 3.0, "rep", "Hi, this is Mark from Acme. How many devices do you have?"),
    (3.5, 5.0, "lead", "About ten."),
    (5.5, 8.0, "rep", "Got it. And is it just the one office?"),
    (8.5, 10.0, "lead", "Yes, just one."),
    (10.5, 13.0, "rep", "Okay. And how many devices do you have?"),
    (13.5, 16.0, "lead", "I already told you, it's ten."),
    (16.5, 19.0, "rep", "Sorry about that, ten devices."),
]

ESCALATION = [
    (0.0, 3.0, "rep", "Hi, this is Mark from Acme, do you have a minute to talk about your internet?"),
    (3.5, 5.0, "lead", "Not really."),
    (5.5, 9.0, "rep", "It'll be quick, I really think you should switch today."),
    (9.5, 12.0, "lead", "Stop pushing me or I'm hanging up."),
    (12.5, 15.0, "rep", "Understood, I'll send you an email instead."),
]

OLD_PROVIDER = [
    (0.0, 3.0, "rep", "So what made you look for a new provider?"),
    (3.5, 9.0, "lead", "Honestly our current provider is terrible, the network goes down every week "
                       "and it's a total mess."),
    (9.5, 12.0, "rep", "That sounds painful, let's fix that."),
    (12.5, 14.0, "lead", "Yes please."),
]

CONFUSION = [
    (0.0, 4.0, "rep", "Each site is managed from a single dashboard with its own configuration."),
    (4.5, 7.0, "lead", "Sorry, I'm lost. I don't understand what that means."),
    (7.5, 10.0, "rep", "No problem, let me explain it differently."),
]


def test_frustration_fires_in_standard(run_call) -> None:
    _, ivs = run_call("acme", "standard", FRUSTRATION)
    emo = of(ivs, C.EMOTION)
    assert len(emo) == 1, dump(ivs)
    assert emo[0].trigger == "lead-frustration"
    assert emo[0].utterance == 5
    assert emo[0].severity == Severity.MEDIUM
    assert emo[0].at == pytest.approx(16.0)           # decided when the lead's words are final


def test_frustration_does_not_fire_in_minimal(run_call) -> None:
    _, ivs = run_call("acme", "minimal", FRUSTRATION)
    assert not of(ivs, C.EMOTION), dump(ivs)


@pytest.mark.parametrize("profile", ["minimal", "standard"])
def test_escalation_fires_high(run_call, profile: str) -> None:
    _, ivs = run_call("acme", profile, ESCALATION)
    emo = of(ivs, C.EMOTION)
    assert len(emo) == 1, dump(ivs)
    assert emo[0].trigger == "lead-escalation"
    assert emo[0].severity == Severity.HIGH
    assert emo[0].utterance == 3
    if profile == "minimal":
        assert [iv.category for iv in ivs] == [C.EMOTION]


@pytest.mark.parametrize("profile", ["standard", "training"])
def test_complaint_about_old_provider_is_not_emotion(run_call, profile: str) -> None:
    _, ivs = run_call("acme", profile, OLD_PROVIDER)
    assert not of(ivs, C.EMOTION), dump(ivs)


@pytest.mark.parametrize("lead", [
    "Sure, no problem. Thanks for calling back.",
    "Yeah no worries at all, thanks for calling me back so quick.",
    "No problem, thanks for getting back to me.",
    # unhappy, but not with the rep or this call
    "Hi. Look, I'm done with my old provider, they cancelled on me three times this month.",
    "My husband put a tarp on it but it's not great. Is that something you do?",
    "And your plan I can just cancel whenever, right? Not like the last one?",
    "The dog next door barking is kind of annoying, that's why we want a taller fence.",
    "Our last contractor strung us along for months, so we want it done properly.",
    "I'm sick of this cold, can you come out this week?",
    "Yeah we'd like to book it for like next Tuesday if that works.",
])
def test_a_friendly_reply_that_sounds_like_a_brush_off_is_not_emotion(run_call, lead: str) -> None:
    """A thank-you resembles "don't call me again" on meaning; its words are friendly."""
    call = [(0.0, 3.0, "rep", "Hi, it's Dana from Acme returning your call about solar."),
            (3.5, 6.0, "lead", lead),
            (6.5, 9.0, "rep", "Great. So what made you look into solar?")]
    _, ivs = run_call("acme", "training", call)
    assert not of(ivs, C.EMOTION), dump(ivs)


def test_confusion_not_in_standard_but_in_training(run_call) -> None:
    _, ivs = run_call("acme", "standard", CONFUSION)
    assert not of(ivs, C.EMOTION), dump(ivs)
    _, ivs = run_call("acme", "minimal", CONFUSION)
    assert not ivs, dump(ivs)
    _, ivs = run_call("acme", "training", CONFUSION)
    emo = of(ivs, C.EMOTION)
    assert len(emo) == 1, dump(ivs)
    assert emo[0].trigger == "lead-confusion"
    assert emo[0].severity == Severity.LOW
    assert emo[0].utterance == 1



@pytest.mark.parametrize("lead, label", [
    ("No. Stop. I've said it three times, you are not listening, and if you push again I'm hanging up.", "escalation"),
    ("Look I already told you, can you just give me the total, I'm done with this call.", "escalation"),
    ("Listen. You won't take no for an answer. Email me, and if anyone calls again I'm done with you people.",
     "escalation"),
    ("look i i already told you two kids can you just give me the total", "frustration"),
    ("wait what i read on your site they cost extra are you even looking at the same page", "frustration"),
    ("That's not an answer, I asked what happens if I cancel.", "frustration"),
    ("Hold on. I asked for a simple number and I keep getting more fees.", "frustration"),
    ("it's on the form too man did you even read it, that's the third question you've asked me", "frustration"),
    ("I really don't need a sales pitch right now, I've got water in my basement.", "frustration"),
    ("Okay, spare me the pitch, what does it cost?", "frustration"),
    ("twin inboards i said that too look i'm kind of losing my patience here are you even writing this down",
     "frustration"),
    # pushed, pointed back at what they said, told one thing then another, messed about, insulted
    ("Okay you're pressuring me a bit here, I told you I'm not signing today.", "frustration"),
    ("I just told you that two minutes ago, it's a ranch house.", "frustration"),
    ("Listen, I said I want the basic plan, nothing else.", "frustration"),
    ("First you said there's no fee and now there's a fee?", "frustration"),
    ("it's getting annoying that you keep changing the number", "frustration"),
    ("You asked me that already, like two minutes ago.", "frustration"),     # "like" is no liking
    ("This is ridiculous, your company has been stringing me along for weeks.", "escalation"),
    ("You guys are a scam and I'm going to leave a one-star review.", "escalation"),
    ("wait so which one is monthly i'm kind of lost now", "confusion"),
    ("Sorry, I'm a bit confused, is that per site?", "confusion"),
    ("One more word about the bigger package and I'm reporting you to your manager.", "escalation"),
    ("why do you keep changing the numbers on me", "frustration"),
    ("Okay, this is getting kind of confusing, which one has the warranty?", "confusion"),
    # over the rep's head, a complaint, ending the call or all business, a trick named as one
    ("This is ridiculous. I want to speak to your manager right now.", "escalation"),
    ("get a supervisor on the line or i'm filing a complaint", "escalation"),
    ("If I hear that one more time I'm ending this call and cancelling all of our orders with you.", "escalation"),
    ("Another fee? Honestly this feels like a bait and switch.", "escalation"),
    ("Stop reading me a script, I asked how much it is.", "frustration"),
    ("so now it's double? why didn't you say that at the start", "frustration"),
    ("Hold on, so I'd pay for the membership on top? This is getting a little frustrating.", "frustration"),
    ("You keep going back and forth and I'm getting a little lost here.", "confusion"),
    # a threat to hang up in other words; asking again for one thing; being let down again
    ("Three different prices now. Honestly I'm this close to hanging up and calling someone else.", "escalation"),
    ("That's it, I'm about ready to hang up on this whole thing.", "escalation"),
    ("I've asked for the price twice and you still can't tell me what I'd pay?", "frustration"),
    ("are you kidding me, that's the second time you guys have cancelled on me", "frustration"),
    ("This is the third time your office has rescheduled us.", "frustration"),
    # fed up with the call as it goes on; the company insulted; told a lie
    ("so is it ten or twenty, come on, i'm getting kind of fed up here", "frustration"),
    ("I've called three companies today and I'm honestly getting fed up with everyone dragging this out.",
     "frustration"),
    ("Hang on, that's not what the ad said. This is unbelievable.", "frustration"),
    ("Now there's a deposit too? You people are unbelievable.", "escalation"),
    ("Everything your guy told me was a lie, and now you're doing the same thing.", "escalation"),
    ("Monday? You people are wasting my time and I am done being jerked around!", "escalation"),
])
def test_the_words_of_an_upset_lead_name_the_strongest_emotion(run_call, lead: str, label: str) -> None:
    """Long or disfluent replies dilute their meaning; the words themselves
    still say it, and the most serious reading wins (a frustrated reply that
    ends in a threat to hang up is an escalation)."""
    call = [(0.0, 3.0, "rep", "So the Standard package would cover you, and there's a setup step first."),
            (3.5, 8.0, "lead", lead),
            (8.5, 10.0, "rep", "Understood.")]
    _, ivs = run_call("acme", "training", call)
    emo = of(ivs, C.EMOTION)
    assert emo and emo[0].trigger == f"lead-{label}", dump(ivs)


@pytest.mark.parametrize("lead", ["I already said yes to my wife, she wants faster internet.",
                                  "I already have a router, is that okay?",
                                  "Are you even open on Sundays?",
                                  "I'll need to talk to my manager before we sign anything.",
                                  "Before we hang up, can you email me the quote?",
                                  "I'll report it to our board and get back to you.",
                                  # fed up with the provider they are leaving, not with the rep
                                  "Honestly I'm getting fed up with my current company, that's why I called.",
                                  "We're fed up with our old cleaner, they never show on time.",
                                  # the lead's own repeated mishap is why they called
                                  "Honestly this is the third time I've cracked a screen, I keep dropping it."])
def test_already_and_even_are_not_frustration_by_themselves(run_call, lead: str) -> None:
    call = [(0.0, 3.0, "rep", "So what's your setup today?"), (3.5, 7.0, "lead", lead),
            (7.5, 9.0, "rep", "Great, thanks.")]
    _, ivs = run_call("acme", "training", call)
    assert not of(ivs, C.EMOTION), dump(ivs)


# ----------------------------------------------------------------- momentum

DEAD_AIR = [
    (0.0, 3.0, "rep", "Hi, this is Mark from Acme, thanks for filling in the form."),
    (3.4, 6.2, "lead", "Sure, I wanted to hear about your business plans."),
    (20.0, 23.0, "rep", "Sorry, I was muted. Let me walk you through them."),
]

HOLD = [
    (0.0, 3.0, "rep", "Hi, this is Mark from Acme, thanks for filling in the form."),
    (3.4, 6.2, "lead", "Can you check whether you cover my street?"),
    (6.6, 8.5, "rep", "Sure, let me pull that up, one sec."),
    (15.5, 19.0, "rep", "Okay, yes, your street is covered."),
]


@pytest.mark.parametrize("profile", ["standard", "training"])
def test_dead_air_fires_when_the_silence_crosses_the_threshold(run_call, profile: str) -> None:
    us, ivs = run_call("acme", profile, DEAD_AIR)
    mom = of(ivs, C.MOMENTUM)
    assert len(mom) == 1, dump(ivs)
    last = us[1]
    assert mom[0].trigger == "dead-air"
    assert mom[0].at == pytest.approx(last.end + PROFILES[profile].dead_air_s)   # 12.2 / 10.2
    assert mom[0].utterance == last.index
    assert mom[0].at < us[2].start          # not when the next person finally speaks


def test_dead_air_not_in_minimal(run_call) -> None:
    _, ivs = run_call("acme", "minimal", DEAD_AIR)
    assert not ivs, dump(ivs)


def test_dead_air_just_short_of_threshold_does_not_fire(run_call) -> None:
    lines = [*DEAD_AIR[:2], (6.2 + PROFILES["standard"].dead_air_s - 0.3, 15.0, "rep", "So, where were we?")]
    _, ivs = run_call("acme", "standard", lines)
    assert not of(ivs, C.MOMENTUM), dump(ivs)


def test_productive_pause_does_not_fire(run_call) -> None:
    us, ivs = run_call("acme", "standard", HOLD)
    assert us[3].start - us[2].end == pytest.approx(7.0)
    assert us[3].start - us[2].end > PROFILES["standard"].dead_air_s
    assert not of(ivs, C.MOMENTUM), dump(ivs)


def test_productive_pause_nothing_in_minimal(run_call) -> None:
    _, ivs = run_call("acme", "minimal", HOLD)
    assert not ivs, dump(ivs)


# -------------------------------------------------------------- opportunity

def opportunity_call(answer: str, opening: str = "We need someone to look after our computers and the network.",
                     signal: str = "We run a bakery, and we're about to open a second shop across town.") -> list[tuple]:
    return [
        (0.0, 3.0, "rep", "Hi, it's Sam from Acme Business Networks, you asked about IT support?"),
        (3.5, 7.0, "lead", opening),
        (7.5, 10.0, "rep", "Sure. So tell me a bit about your business."),
        (10.5, 16.0, "lead", signal),
        (16.5, 21.0, "rep", answer),
        (21.5, 23.0, "lead", "Okay, good to know."),
        (23.5, 26.0, "rep", "Shall I send you the details?"),
    ]


IGNORED = opportunity_call("Nice. The Standard package is forty-nine dollars a month.")
PICKED_UP = opportunity_call("Congrats! With two locations our multi-site package is usually cheaper "
                             "per site than two separate plans.")


def test_opportunity_fires_when_rep_ignores_it(run_call) -> None:
    us, ivs = run_call("acme", "standard", IGNORED)
    opp = of(ivs, C.OPPORTUNITY)
    assert len(opp) == 1, dump(ivs)
    assert opp[0].trigger == "opportunity"
    assert opp[0].utterance == 3
    assert "multi-site" in opp[0].say
    assert opp[0].at >= us[5].start     # only once the rep has answered (two turns) without picking it up
    assert {e.kb_id for e in opp[0].evidence} == {"multi-site"}


@pytest.mark.parametrize("signal, fires", [
    ("Hi, yes. We run a bakery, and we're about to open a second shop across town.", False),
    ("Hi, yes. We run a bakery, and we're opening a second location in March.", True),      # its own words
])
def test_the_leads_first_statement_is_the_calls_subject(run_call, signal: str, fires: bool) -> None:
    """The lead's first statement is why they called, and the whole call answers
    it: what there only resembles a signal on meaning is the call's subject, not
    an upsell the rep may miss (a greeting before it does not count); a signal
    said in its own words still is one. Later in the call the same words are a
    signal (test above)."""
    lines = opportunity_call("Nice. The Standard package is forty-nine dollars a month.",
                             opening="Yes, hi.", signal=signal)
    _, ivs = run_call("acme", "standard", lines)
    assert bool(of(ivs, C.OPPORTUNITY)) == fires, dump(ivs)


@pytest.mark.parametrize("first_reply, answer, fires", [
    # the rep's first reply only qualifies the need; the answer after it picks it up
    ("Congrats! How many sites will that be, and when do they open?",
     "Then our multi-site package covers both at a lower rate per site than two plans.", False),
    ("oh nice and how many people at each", "so with two locations multi-site is cheaper per site", False),
    # ... or never does: the card comes after the answer
    ("Congrats! How many sites will that be, and when do they open?",
     "Okay. The Standard package is forty-nine dollars a month.", True),
    # a first reply that tells something is the answer itself
    ("The Standard package is forty-nine dollars a month. How many people are there?",
     "Okay, and we can set it up next week.", True),
])
def test_a_need_in_the_opening_statement_waits_past_a_qualifying_question(
        run_call, first_reply: str, answer: str, fires: bool) -> None:
    """The lead's opening statement names the need said in a signal's own words;
    the rep's first reply only asks about it ("how many sites?"): that is how a
    rep qualifies before offering, so the card waits for the answer after it."""
    lines = [(0.0, 3.0, "rep", "Hi, it's Sam from Acme Business Networks, you asked about IT support?"),
             (3.5, 8.0, "lead", "Yes, hi. We run a bakery, and we're opening a second location in March."),
             (8.5, 12.0, "rep", first_reply),
             (12.5, 15.0, "lead", "Two, the second one in March, about ten people each."),
             (15.5, 20.0, "rep", answer),
             (20.5, 22.0, "lead", "Okay, good to know."),
             (22.5, 25.0, "rep", "Shall I send you the details?")]
    _, ivs = run_call("acme", "standard", lines)
    assert bool(of(ivs, C.OPPORTUNITY)) == fires, dump(ivs)


def test_opportunity_not_when_rep_picks_it_up(run_call) -> None:
    _, ivs = run_call("acme", "standard", PICKED_UP)
    assert not of(ivs, C.OPPORTUNITY), dump(ivs)


def test_an_answer_after_an_announced_pause_still_picks_the_signal_up(run_call) -> None:
    """"Let me pull up the numbers, one sec" and a long pause: the answer is still
    to come, so the card waits for it (and is not needed when it comes)."""
    lines = [(0.0, 3.0, "rep", "So tell me about the business."),
             (3.5, 7.0, "lead", "We're opening a second location in March."),
             (7.5, 10.0, "rep", "Oh nice, let me just pull up the numbers for that, one sec."),
             (21.0, 26.0, "rep", "Okay, with two locations our multi-site package is cheaper per site than two plans."),
             (26.5, 28.0, "lead", "Okay.")]
    _, ivs = run_call("acme", "standard", lines)
    assert not of(ivs, C.OPPORTUNITY), dump(ivs)
    # and with no answer after the pause, the card comes once the rep's next turn ends
    lines[3] = (21.0, 26.0, "rep", "Okay, so the Standard package is forty-nine dollars a month.")
    _, ivs = run_call("acme", "standard", lines)
    assert of(ivs, C.OPPORTUNITY), dump(ivs)


def test_a_point_picked_up_is_not_raised_again_when_the_lead_comes_back_to_it(run_call) -> None:
    """The rep offered the multi-site package as soon as the second shop came up;
    the lead mentioning the second location again later is no missed upsell. (A
    need the rep never answered still is one: the test above.)"""
    lines = PICKED_UP + [(26.5, 31.0, "lead", "The second location opens in March, so it's a busy spring for us."),
                         (31.5, 34.0, "rep", "I bet. I'll email you the Standard package details."),
                         (34.5, 36.0, "lead", "Great, thanks."),
                         (36.5, 38.0, "rep", "Talk soon.")]
    _, ivs = run_call("acme", "standard", lines)
    assert not of(ivs, C.OPPORTUNITY), dump(ivs)
    # the same return to it, never answered the first time, is one
    lines[4] = IGNORED[4]
    _, ivs = run_call("acme", "standard", lines)
    assert of(ivs, C.OPPORTUNITY), dump(ivs)


@pytest.mark.parametrize("rep_before, signal, fires", [
    # the rep raised the offer; the lead only takes it up
    ("Our multi-site package covers more than one site at a lower rate per site, by the way.",
     "Oh good, we're opening a second location in March actually.", False),
    ("Does the second location in your ad mean you'd want the multi-site package?",
     "Yes, the second location opens in March.", False),
    # the rep asked something else: the need is the lead's own, and still open
    ("Sure. So tell me a bit about your business.", "We're opening a second location in March.", True),
])
def test_a_need_the_lead_takes_up_from_the_reps_own_words_is_no_missed_upsell(run_call, rep_before: str,
                                                                                signal: str, fires: bool) -> None:
    lines = opportunity_call("Nice. The Standard package is forty-nine dollars a month.", signal=signal)
    lines[2] = (7.5, 10.0, "rep", rep_before)
    _, ivs = run_call("acme", "standard", lines)
    assert bool(of(ivs, C.OPPORTUNITY)) == fires, dump(ivs)


@pytest.mark.parametrize("signal, fires", [
    ("We don't have a second location, and no plans for one.", False),
    ("No second location for now, it's just the one shop.", False),
    ("I don't know yet, but we're opening a second location in March.", True),
])
def test_a_signal_said_inside_a_negation_is_denied(run_call, signal: str, fires: bool) -> None:
    """The signal's own words, denied ("no second location"), are no need; said
    beside a negation of something else they still are."""
    lines = opportunity_call("Nice. The Standard package is forty-nine dollars a month.", signal=signal)
    _, ivs = run_call("acme", "standard", lines)
    assert bool(of(ivs, C.OPPORTUNITY)) == fires, dump(ivs)


def test_opportunity_not_in_minimal(run_call) -> None:
    _, ivs = run_call("acme", "minimal", IGNORED)
    assert not ivs, dump(ivs)


# -------------------------------------------------------------- competitive

@pytest.mark.parametrize("said, cid, words", [
    ("Yeah, NetCo quoted me a bit less last week.", "netco", "$199 setup fee"),
    ("We also got an offer from fibre link.", "fibrelink", "24-month contract"),
    ("Net Co business called me yesterday.", "netco", "business hours only"),
])
def test_competitor_named(run_call, kb_index, said: str, cid: str, words: str) -> None:
    lines = [(0.0, 3.0, "rep", "Are you talking to anyone else?"),
             (3.5, 7.0, "lead", said),
             (7.5, 10.0, "rep", "Okay, I see.")]
    _, ivs = run_call("acme", "standard", lines)
    comp = of(ivs, C.COMPETITIVE)
    assert len(comp) == 1, dump(ivs)
    positioning = next(c.positioning for c in kb_index("acme").kb.competitors if c.id == cid)
    assert comp[0].trigger == "competitor-mention"
    assert comp[0].utterance == 1
    assert positioning in comp[0].say and words in comp[0].say
    assert [e.kb_id for e in comp[0].evidence] == [cid]
    _, ivs = run_call("acme", "minimal", lines)
    assert not ivs, dump(ivs)


@pytest.mark.parametrize("reply", [
    ["They do, but they charge one ninety-nine just to set you up."],
    ["Right.", "And their contract runs twenty-four months, where we're month to month."],
])
def test_a_reply_with_the_positionings_own_figures_answers_the_competitor(run_call, reply) -> None:
    lines = [(0.0, 3.0, "rep", "Are you talking to anyone else?"),
             (3.5, 7.0, "lead", "We also got quotes from NetCo and fibre link.")]
    t = 7.5
    for r in reply:
        lines.append((t, t + 3.0, "rep", r))
        t += 3.5
    lines.append((t, t + 2.0, "lead", "Okay."))
    _, ivs = run_call("acme", "standard", lines)
    said = " ".join(reply)
    comp = of(ivs, C.COMPETITIVE)
    # the competitor whose figures the rep used is answered; the other one is not
    assert len(comp) == 1, dump(ivs)
    assert ("NetCo" in comp[0].detected) != ("199" in said), dump(ivs)


def test_an_answer_in_two_breaths_is_one_answer(run_call) -> None:
    """The rep talks past the competitor's wait and takes a breath before the
    sentence with the positioning: the answer is judged when the turn ends."""
    lines = [(0.0, 3.0, "rep", "Are you talking to anyone else?"),
             (3.5, 7.0, "lead", "Yeah, we've had NetCo for a year and they're awful."),
             (7.6, 19.0, "rep", "Oh I'm sorry to hear that, that's rough, and I know switching is a hassle, "
                                "so let me tell you how it works with us and what changes for you."),
             (19.6, 26.0, "rep", "Compared to NetCo, they charge a one ninety-nine setup fee and we charge none."),
             (26.8, 28.0, "lead", "Okay.")]
    _, ivs = run_call("acme", "standard", lines)
    assert not of(ivs, C.COMPETITIVE), dump(ivs)
    # no answer at all: the card still comes once the rep's turn is over
    _, ivs = run_call("acme", "standard", lines[:3] + [(20.0, 21.0, "lead", "So?")])
    assert of(ivs, C.COMPETITIVE), dump(ivs)


def test_competitor_on_saas_kb(run_call) -> None:
    lines = [(0.0, 3.0, "rep", "What are you using today?"),
             (3.5, 7.0, "lead", "We're on Tally Books at the moment."),
             (7.5, 10.0, "rep", "Got it.")]
    _, ivs = run_call("saas", "standard", lines)
    comp = of(ivs, C.COMPETITIVE)
    assert comp and "caps users at 5" in comp[0].say, dump(ivs)


# --------------------------------------------------------------- compliance

def compliance_call(rep: str) -> list[tuple]:
    return [(0.0, 3.0, "lead", "Will this actually save me money?"),
            (3.5, 8.0, "rep", rep),
            (8.5, 10.0, "lead", "Okay.")]


def test_forbidden_phrase_fires(run_call) -> None:
    _, ivs = run_call("acme", "standard", compliance_call("Absolutely, with us you get guaranteed savings."))
    comp = of(ivs, C.COMPLIANCE)
    assert len(comp) == 1, dump(ivs)
    assert comp[0].trigger == "forbidden-statement"
    assert comp[0].severity == Severity.HIGH
    assert comp[0].utterance == 1
    assert "can't promise" in comp[0].say
    assert [e.kb_id for e in comp[0].evidence] == ["guarantee"]
    _, ivs = run_call("acme", "minimal", compliance_call("Absolutely, with us you get guaranteed savings."))
    assert not ivs, dump(ivs)



def negated(kb: str, rep: str, why: str = ""):
    marks = [pytest.mark.xfail(strict=True, reason=f"LIMITATION: {why}")] if why else []
    return pytest.param(kb, rep, marks=marks, id=f"{kb}:{rep[:40]}")


@pytest.mark.parametrize("kb, rep", [
    negated("acme", "We can't guarantee savings, but most customers see lower bills."),
    negated("acme", "There's no guarantee you'll save, but most customers do."),
    negated("acme", "I can't promise you'll save money."),
    negated("saas", "I can't say it will reduce your tax bill, your accountant can advise on that."),
    negated("saas", "It won't necessarily lower your taxes."),
    negated("acme", "I can't promise it never goes down, but we fix outages within four hours."),
    negated("acme", "Honestly I won't guarantee savings for everyone."),
])
def test_negated_forbidden_phrase_is_compliant(run_call, kb: str, rep: str) -> None:
    _, ivs = run_call(kb, "standard", compliance_call(rep))
    assert not of(ivs, C.COMPLIANCE), dump(ivs)


def test_forbidden_on_meaning_saas(run_call) -> None:
    _, ivs = run_call("saas", "standard", compliance_call("It will cut your taxes for sure."))
    comp = of(ivs, C.COMPLIANCE)
    assert len(comp) == 1, dump(ivs)
    assert [e.kb_id for e in comp[0].evidence] == ["tax-advice"]
    assert "accountant" in comp[0].say



@pytest.mark.parametrize("rep", [
    "so yeah we guarantee youll save on the bill",                   # apostrophe dropped by ASR
    "don't worry about a thing, it never goes down, I promise",      # reassurance first, then the promise
    "you don't have to stress, you'll save, I guarantee it",
    "Look, it's basically no risk at all for you.",
    "with our setup the network never goes down, period",
    "oh yeah no problem you'll save on the bill for sure, guaranteed savings every month",   # "no problem" = "sure"
    "no worries, the network never goes down with us",
    "Honestly, once it's set up you don't need to worry about outages at all, it never goes down.",
])
def test_forbidden_said_in_other_forms_fires(run_call, rep: str) -> None:
    """A negative forbidden phrase said word for word ("never goes down") is that
    phrase, not a denial of the others; a promise after a reassuring "don't
    worry" is still a promise; ASR's missing apostrophes do not hide it."""
    _, ivs = run_call("acme", "standard", compliance_call(rep))
    assert of(ivs, C.COMPLIANCE), dump(ivs)


@pytest.mark.parametrize("rep", [
    "Their guarantee only gives back half, ours is a full refund within thirty days.",
    "There's a guarantee on the hardware, the Premium package includes five years of support.",
    "I can't really promise savings, every office is different.",
    "We can't guarantee you'll save money, but most offices pay less.",
])
def test_naming_or_denying_a_guarantee_is_not_giving_one(run_call, rep: str) -> None:
    _, ivs = run_call("acme", "standard", compliance_call(rep))
    assert not of(ivs, C.COMPLIANCE), dump(ivs)


def test_promise_words_the_kb_uses_itself_name_a_feature() -> None:
    """A KB that sells a "Job Guarantee" or a "guaranteed delivery date" lets the
    rep name them; the same word as the rep's own assurance still counts."""
    from intervene.core.detect.signals import _promises, kb_assurance_terms
    terms = kb_assurance_terms(["The Job Guarantee refunds tuition if you are not hired.",
                                "Premier includes a guaranteed delivery date."])
    for named in ["Only the cohort has the Job Guarantee.", "What the job guarantee does is refund you",
                  "premier adds a dedicated truck and a guaranteed delivery date"]:
        assert not _promises(named, terms), named
    for promised in ["you'll get hired, I guarantee it", "it'll arrive on time, guaranteed, trust me",
                     "I promise you'll love it"]:
        assert _promises(promised, terms), promised


def test_a_forbidden_match_closer_to_the_kb_than_to_the_phrase_is_not_one(run_call, kb_index) -> None:
    """On meaning alone, a rep restating what the KB itself says sits closer to
    that fact than to the forbidden phrase and does not fire; the forbidden
    statement itself still does."""
    from intervene.core.detect.signals import ComplianceDetector
    d = ComplianceDetector(kb_index("saas"))
    assert d._kb_says("Ledgerly connects to your bank feeds automatically.") > 0.5
    _, ivs = run_call("saas", "standard", compliance_call("It will cut your taxes for sure."))
    assert of(ivs, C.COMPLIANCE), dump(ivs)


# ------------------------------------------------------------------ process

_TALK = [
    "Thanks for taking the time to talk with me today about your office.",
    "Of course, we have been meaning to sort out our internet for a while now.",
    "Tell me a little about how the team uses the connection during the day.",
    "Mostly email and video meetings, plus the card machine at the front desk.",
    "Video meetings need a steady upload, so that matters for the choice.",
    "Yes, the calls keep freezing in the afternoon, it drives everyone mad.",
    "That usually points to the line getting saturated when everyone is online.",
    "That would make sense, it is worst right after lunch most days.",
    "We can look at the options that handle that kind of load much better.",
    "Great, that is exactly what I was hoping to hear from you.",
    "Good, I will put a short summary together for you after this.",
    "Perfect, please send it over when you have it ready.",
]


def talk(n: int, dur: float = 7.0, gap: float = 1.5, first: str = "") -> list[tuple]:
    """n alternating rep/lead utterances without pauses long enough for dead air."""
    out, t = [], 0.0
    for i in range(n):
        text = first if i == 0 and first else _TALK[i % len(_TALK)]
        out.append((t, t + dur, "rep" if i % 2 == 0 else "lead", text))
        t += dur + gap
    return out


def deadline(kb_index, rid: str) -> float:
    return next(r.deadline_s for r in kb_index("acme").kb.required if r.id == rid)


def test_missing_required_phrase_fires_at_its_deadline(run_call, kb_index) -> None:
    due = deadline(kb_index, "recording-disclosure")                # 90 s
    lines = talk(12)
    assert lines[-1][1] > due
    assert any(s < due < e for s, e, _, _ in lines)                 # someone is mid-sentence at the deadline
    us, ivs = run_call("acme", "training", lines)
    proc = of(ivs, C.PROCESS)
    assert len(proc) == 1, dump(ivs)
    assert proc[0].trigger == "missed-phrase"
    assert proc[0].at == pytest.approx(due)
    assert proc[0].utterance == max(u.index for u in us if u.end <= due)
    assert "This call is recorded" in proc[0].say
    assert [e.kb_id for e in proc[0].evidence] == ["recording-disclosure"]


def test_required_phrase_said_in_time(run_call) -> None:
    lines = talk(12, first="Hi, just so you know, this call is recorded for quality.")
    _, ivs = run_call("acme", "training", lines)
    assert not of(ivs, C.PROCESS), dump(ivs)


def test_missing_required_phrase_not_in_standard(run_call) -> None:
    _, ivs = run_call("acme", "standard", talk(12))
    assert not of(ivs, C.PROCESS), dump(ivs)


def test_call_ending_before_the_deadline(run_call, kb_index) -> None:
    lines = talk(6)
    assert lines[-1][1] < deadline(kb_index, "recording-disclosure")
    _, ivs = run_call("acme", "training", lines)
    assert not of(ivs, C.PROCESS), dump(ivs)


def test_missed_process_step_fires_at_its_deadline(run_call, kb_index) -> None:
    """ask-timeline (by 300 s) is never asked; the disclosure and the device
    question are: only the timeline step fires."""
    due = deadline(kb_index, "ask-timeline")
    lines = talk(36, dur=8.0, gap=1.0, first="Hi, just so you know, this call is recorded for quality.")
    lines[2] = (lines[2][0], lines[2][1], "rep", "How many devices do you have in the office?")
    assert lines[-1][1] > due
    us, ivs = run_call("acme", "training", lines)
    proc = of(ivs, C.PROCESS)
    assert len(proc) == 1, dump(ivs)
    assert proc[0].trigger == "missed-step"
    assert proc[0].at == pytest.approx(due)
    assert proc[0].utterance == max(u.index for u in us if u.end <= due)
    assert "when are you looking to" in proc[0].say


def test_a_step_asked_after_an_acknowledgement_is_covered(run_call) -> None:
    """Reps open their questions with "okay, wonderful, so": the question is what
    covers the step ("how many computers"), the acknowledgement only dilutes it."""
    lines = talk(36, dur=8.0, gap=1.0, first="Hi, just so you know, this call is recorded for quality.")
    lines[2] = (lines[2][0], lines[2][1], "rep", "okay wonderful so roughly how many laptops and desktops have you got")
    _, ivs = run_call("acme", "training", lines)
    assert [p.say for p in of(ivs, C.PROCESS) if "devices" in p.say or "computers" in p.say] == [], dump(ivs)
    assert of(ivs, C.PROCESS), dump(ivs)        # ask-timeline is still missed


def test_agitated_voice_lowers_the_bar_only_for_words_that_lean_that_way(acme_index) -> None:
    """Acoustic cues: words just short of the frustration bar count when the
    lead is much louder than their own baseline; calm words stay calm however loud."""
    from dataclasses import replace

    from intervene.core.detect.emotion import EmotionDetector
    from intervene.core.detect.phrases import units_of
    from intervene.core.detect.state import CallState
    from intervene.vocab import Cues, Speaker, Utterance
    text = "Can we speed this up?"
    std = PROFILES["standard"]
    score = EmotionDetector(acme_index).protos.scores(units_of(text))["frustration"][0]
    # a profile shift that puts this sentence just below the bar (by half the voice bonus)
    profile = replace(std, emotion_shift=score - std.emotion_frustration_sim + std.arousal_bonus / 2)
    loud = Cues(loudness_db=-10, loudness_rise_db=8.0, pitch_rise=0.2)
    calm = EmotionDetector(acme_index, profile).on_utterance(
        Utterance(0, Speaker.LEAD, 0, 2, text), CallState(), 2)
    agitated = EmotionDetector(acme_index, profile).on_utterance(
        Utterance(0, Speaker.LEAD, 0, 2, text, cues=loud), CallState(), 2)
    assert not calm and agitated and "louder" in agitated[0].detected
    # a louder-voice threshold above this lead's rise: the voice no longer lowers the bar
    deaf = EmotionDetector(acme_index, replace(profile, arousal_louder_db=9.0, arousal_pitch_rise=0.3)).on_utterance(
        Utterance(0, Speaker.LEAD, 0, 2, text, cues=loud), CallState(), 2)
    assert not deaf
    happy = EmotionDetector(acme_index, profile).on_utterance(
        Utterance(0, Speaker.LEAD, 0, 2, "That sounds great, let's do it!", cues=loud), CallState(), 2)
    assert not happy


def test_misheard_numbers_are_not_corrected(acme_index, kb_index) -> None:
    """From audio, a contradiction resting on a low-confidence number that
    sounds like the KB's is our mishearing, not the rep's error - unless the
    number was heard clearly."""
    from intervene.core.detect.accuracy import sounds_alike
    from intervene.core.detect.state import CallState
    from intervene.core.engine import Detectors
    from intervene.core.policy import PROFILES
    from intervene.vocab import Speaker, Utterance, Word
    assert sounds_alike("9", "49") and sounds_alike("899", "89") and sounds_alike("15", "50")
    assert not sounds_alike("2", "3") and not sounds_alike("14", "30")
    assert sounds_alike("153", "150") and not sounds_alike("157", "150") and not sounds_alike("13", "10")

    def run(text, words, index=acme_index, product="standard"):
        d = Detectors.build(index, PROFILES["standard"])
        call = CallState(product=product)
        u = Utterance(0, Speaker.REP, 0, 2, text, words=words)
        call.utterances.append(u)
        d.accuracy.on_utterance(u, call, 2.0)
        return d.accuracy.turn_ended(4.0)
    unsure = (Word("It's", 0, .2, .8), Word("for", .2, .4, .28), Word("9", .4, .6, .31), Word("a", .6, .7, .6),
              Word("month.", .7, 1, .99))
    sure = tuple(Word(w.text, w.start, w.end, 0.95) for w in unsure)
    assert run("It's for 9 a month.", unsure) == []
    assert run("It's for 9 a month.", sure)                    # heard clearly: a real (odd) claim
    forty = (Word("Try", 0, .2, .9), Word("it", .2, .3, .9), Word("for", .3, .4, .9), Word("40", .4, .6, .6),
             Word("days.", .6, 1, .99))
    saas = kb_index("saas")
    assert run("You can try it free for 40 days.", forty[:3] + (Word("free", .3, .4, .9),) + forty[3:],
               saas, None) == []                                # fourteen/forty at 0.6: not sure enough
    clear = tuple(Word(w.text, w.start, w.end, 0.95) for w in forty)
    heard = run("You can try it free for 40 days.", clear, saas, None)
    assert heard
    # ... but a number that sounds like the KB's is never spoken, however sure Whisper was
    voice = PROFILES["standard"].accuracy_voice_min
    assert all(t.confidence < voice and "sounds-alike" in t.doubts for t in heard)
    slip = (Word("It's", 0, .2, .9), Word("4.9", .2, .6, .9), Word("a", .6, .7, .9), Word("month.", .7, 1, .99))
    assert run("It's 4.9 a month.", slip) == []                # a slipped decimal point
    two = (Word("That", 0, .2, .9), Word("includes", .2, .5, .9), Word("two", .5, .7, .3),
           Word("years", .7, .9, .9), Word("of", .9, 1, .9), Word("support.", 1, 1.4, .9))
    assert run("That includes two years of support.", two)     # 2 does not sound like 3


def test_a_noisy_line_never_speaks_a_correction(kb_index) -> None:
    """The same clearly heard wrong number is spoken on a clean line, becomes at
    most a silent card over a hissing one, and an unknown SNR (text, or the
    first words of a call) changes nothing."""
    from intervene.core.detect.state import CallState
    from intervene.core.engine import Detectors
    from intervene.core.policy import PROFILES
    from intervene.vocab import Cues, Speaker, Utterance, Word
    text = "The Standard plan is 89 dollars a month."
    words = tuple(Word(w, i * .2, i * .2 + .2, .97) for i, w in enumerate(text.split()))

    def confidence(snr):
        d = Detectors.build(kb_index("acme"), PROFILES["standard"])
        call = CallState(product="standard")
        u = Utterance(0, Speaker.REP, 0, 2, text, words=words, cues=Cues(-20.0, snr_db=snr))
        call.utterances.append(u)
        d.accuracy.on_utterance(u, call, 2.0)
        fired = d.accuracy.turn_ended(4.0)
        return (fired[0].confidence, fired[0].doubts) if fired else (None, ())
    clean, _ = confidence(60.0)
    unknown, _ = confidence(None)
    noisy, doubts = confidence(15.0)
    assert clean is not None and clean >= PROFILES["standard"].accuracy_voice_min
    assert unknown == clean
    assert "noisy-line" in doubts and (noisy or 0) < PROFILES["standard"].accuracy_voice_min


def test_the_noisy_line_bar_and_the_emotion_bars_are_the_profiles(kb_index, tmp_path) -> None:
    """[profiles.X] reaches the detectors the engine builds for a call: a line
    15 dB over its noise is noisy at the built-in 25 dB, not at 10 dB; and
    "you asked me that earlier" (0.77 from "you already asked me that") is
    frustration at the built-in 0.60, not at a bar of 0.90."""
    from intervene.config import load_config
    from intervene.core.detect.state import CallState
    from intervene.core.engine import CallEngine
    from intervene.vocab import Cues, Speaker, Utterance, Word
    f = tmp_path / "intervene.toml"
    f.write_text('[profiles.quiet]\nbase = "standard"\nnoisy_line_db = 10\nemotion_frustration_sim = 0.9\n')
    quiet = load_config(f).profiles["quiet"]
    text = "The Standard plan is 89 dollars a month."
    words = tuple(Word(w, i * .2, i * .2 + .2, .97) for i, w in enumerate(text.split()))

    def doubts(profile):
        det = CallEngine(kb_index("acme"), profile).d.accuracy
        call = CallState(product="standard")
        u = Utterance(0, Speaker.REP, 0, 2, text, words=words, cues=Cues(-20.0, snr_db=15.0))
        call.utterances.append(u)
        det.on_utterance(u, call, 2.0)
        [fired] = det.turn_ended(4.0)
        return fired.doubts
    assert "noisy-line" in doubts(PROFILES["standard"])
    assert "noisy-line" not in doubts(quiet)

    def emotion(profile):
        det = CallEngine(kb_index("acme"), profile).d.emotion
        return det.on_utterance(Utterance(0, Speaker.LEAD, 0, 2, "You asked me that earlier."), CallState(), 2)
    assert emotion(PROFILES["standard"]) and not emotion(quiet)


def test_a_later_true_detail_is_not_a_self_correction(kb_index) -> None:
    """"24 panels ..." then "400 watts each" (true, same fact) does not fix the count."""
    from intervene.core.detect.state import CallState
    from intervene.core.engine import Detectors
    from intervene.core.policy import PROFILES
    from intervene.vocab import Speaker, Utterance
    d = Detectors.build(kb_index("solar"), PROFILES["standard"])
    call = CallState(product="plus-8kw")
    for i, text in enumerate(["That's 24 panels up on the roof.", "400 watts each."]):
        u = Utterance(i, Speaker.REP, i * 3.0, i * 3.0 + 2, text)
        call.utterances.append(u)
        d.accuracy.on_utterance(u, call, u.end)
    fired = d.accuracy.turn_ended(8.0)
    assert len(fired) == 1 and "20 panels" in fired[0].say


def test_a_phrase_said_about_another_person_or_without_apostrophes_is_the_phrase() -> None:
    from intervene.core.detect.phrases import verbatim
    p = verbatim("he won't get sick")
    for said in ["with three visits a year she won't get sick", "they wont get sick on our watch", "it won’t get sick"]:
        assert p.search(said.lower()), said
    for other in ["the won't get sick", "he will get sick", "he won't get"]:
        assert not p.search(other), other
    assert verbatim("you can't lose").search("honestly you cant lose")


def test_a_signal_said_in_other_words_around_its_own_hits_and_the_outright_one_wins(embedder, tmp_path) -> None:
    """A lead naming who else wants it, in a long sentence, matches the signal
    that shares most of its words; when one sentence matches two needs, the one
    said outright is the one raised."""
    from intervene.core.detect.phrases import match_owners, signal_units, units_of
    from intervene.core.detect.signals import OpportunityDetector
    from intervene.core.detect.state import CallState
    from intervene.kb.index import KBIndex
    from intervene.kb.loader import load_kb
    from intervene.vocab import Speaker, Utterance
    kb = tmp_path / "kb.yaml"
    kb.write_text("""company: Lingo
products:
  - id: monthly
    name: Monthly plan
    price: "$99 per month"
opportunities:
  - id: family
    signals: [my daughter wants to learn too, my son also wants lessons, my wife wants to join]
    say: Each extra family member gets 15% off.
promotions:
  - id: refer
    text: Refer a friend and you both get a free lesson.
    signals: [a coworker wants to learn, my friend is interested too]
""")
    index = KBIndex(load_kb(kb), embedder)
    p = PROFILES["standard"]
    for said in ["oh okay and honestly my son jake wants to do spanish too so it'd be two kids",
                 "and my wife, she really wants to join in on the lessons as well"]:
        units = units_of(said) + signal_units(said, (p.signal_window_short, p.signal_window_long),
                                              p.signal_window_stride)
        assert "family" in match_owners(index, said, "opportunity:", p.signal_sim, units,
                                        partial_sim=p.signal_partial_sim), said
        assert "family" not in match_owners(index, "my son plays football on sundays", "opportunity:", p.signal_sim,
                                            partial_sim=p.signal_partial_sim)
    d = OpportunityDetector(index)
    said = "By the way, a coworker of mine wants to learn Spanish too, maybe we could do it together."
    u = Utterance(0, Speaker.LEAD, 0, 4, said)
    call = CallState()
    call.utterances.append(u)
    d.on_utterance(u, call, 4.0)
    assert [p.key for p in d.watch.pending] == ["promotion:refer"]


@pytest.mark.parametrize("signal, said, hit", [
    ("in the next few weeks", "um maybe the week after next", False),
    ("in the next few weeks", "Okay. Send the proposal and we'll review it next week.", False),
    ("right away", "okay and is there a waiting period or does it start right away", False),
    ("this month", "we moved in this month", False),
    ("get started soon", "we'd like to get started soon if we can", True),
    ("start this week", "honestly I want to start this week", True),
    ("second location", "we're opening a second location in March", True),
    # one word beside a time is one shared word
    ("start this week", "I start a new job in six weeks, so", False),
    ("work all week", "I work from home so I can get out mid week", False),
    ("work all week", "I work all week, so it'd be Sundays", True),
])
def test_a_signal_that_is_only_a_time_is_matched_on_meaning_not_words(signal: str, said: str, hit: bool) -> None:
    """A promotion's urgency signal made only of time words names no need: the
    lead saying "next week" about something else is not it."""
    norm = normalize_numbers(said)
    assert lexical_hit(signal, set(content_words(norm)), norm, need=True) == hit


def test_a_required_question_keeps_its_time_words() -> None:
    """A rep's required question is its time ("how many lessons a week"): all
    its words said is the question asked, though only one of them is not a time."""
    norm = normalize_numbers("so how many lessons were you thinking of each week")
    assert lexical_hit("lessons per week", set(content_words(norm)), norm)
    assert not lexical_hit("lessons per week", set(content_words(norm)), norm, need=True)


@pytest.mark.parametrize("signal, said, hit", [
    ("we have two dogs", "I'm boarding my dog while we're away for 2 weeks", False),
    ("three bedrooms", "we've got 3 kids and a spare bedroom", False),
    ("we have two dogs", "we have two dogs, a lab and a pug", True),
    ("we have two dogs", "honestly we have 2 rescue dogs", True),
])
def test_a_number_in_a_signal_counts_its_own_word(signal: str, said: str, hit: bool) -> None:
    norm = normalize_numbers(said)
    assert lexical_hit(normalize_numbers(signal), set(content_words(norm)), norm) == hit


@pytest.mark.parametrize("signal, said, agree", [
    ("five days a week", "maybe 3 days a week", False),
    ("five days a week", "pretty much 5 days a week", True),
    ("five days a week", "most weekdays", True),
    ("away for two weeks", "we're away for a fortnight", True),
])
def test_a_signal_and_words_with_different_numbers_are_different_needs(signal: str, said: str, agree: bool) -> None:
    assert numbers_agree(normalize_numbers(signal), said) == agree


@pytest.mark.parametrize("signal, said, agree", [
    ("a month or more", "a week in June", False),
    ("three weeks or longer", "we want three weeks in February", True),
    ("escape the winter", "a week in June", True),          # no span in the signal: meaning decides
    ("a month or more", "about two months away", True),
])
def test_a_need_with_a_span_of_time_and_words_with_another_are_different_needs(signal, said, agree) -> None:
    assert spans_agree(signal, said) == agree


@pytest.mark.parametrize("said, fires", [
    ("hang on you're rushing me i still don't know how many miles we get", True),
    ("look i'm not trying to sit through the whole brochure, which one do i need", True),
    ("that was like my whole question", True),
    ("ok that's the only question i had, thanks", False),
    ("no rush at all, take your time", False),
])
def test_being_hurried_or_talked_at_is_frustration(embedder, said: str, fires: bool) -> None:
    det = EmotionDetector(KBIndex(load_kb_text(GARAGE_KB, source="garage"), embedder))
    u = Utterance(0, Speaker.LEAD, 0.0, 4.0, said)
    call = CallState()
    call.utterances.append(u)
    got = det.on_utterance(u, call, 4.0)
    assert bool(got) == fires, got


MARINA_KB = """
company: Harbor Point Marina
products:
  - id: slip
    name: Seasonal slip
    aliases: [slip]
    price: "$95 per foot per season"
compliance:
  forbidden:
    - id: damage-promise
      phrases: [nothing will happen to your boat, no risk of damage, you don't need your own insurance]
      say: "Boats must carry the owner's own insurance; we can't promise there will be no damage."
    - id: slip-guarantee
      phrases: [guarantee you the slip, I promise you'll get that slip]
      say: "Slips depend on availability; we can't guarantee a specific slip."
"""


@pytest.mark.parametrize("rep, fires", [
    # a negative phrase's words said the other way round are its compliant opposite
    ("For the slip I'll need your registration and proof that you carry your own insurance.", False),
    ("You need your own insurance for damage, we can't promise nothing will happen.", False),
    # close in meaning to a guarantee, with no guarantee given
    ("Oh sorry to hear that. Well, the slip will still be there for you next season.", False),
    # a reassurance is an assurance
    ("Once it's in our yard you don't need to worry about damage at all.", True),
    ("Honestly, you don't need your own insurance, we've got you.", True),
    ("I guarantee you the slip, it's yours.", True),
])
def test_a_forbidden_phrase_needs_its_own_polarity_and_its_promise(embedder, rep: str, fires: bool) -> None:
    det = ComplianceDetector(KBIndex(load_kb_text(MARINA_KB, source="marina"), embedder))
    got = det.on_utterance(Utterance(0, Speaker.REP, 0.0, 4.0, rep), CallState(), 4.0)
    assert bool(got) == fires, got


TUTOR_KB = """
company: Brightline Tutoring
products:
  - id: exam-prep
    name: Exam prep course
    aliases: [exam prep]
    price: "$480 per term"
facts:
  - id: results
    text: 78% of last year's exam prep students raised their grade by at least one band.
compliance:
  forbidden:
    - id: grade-guarantee
      phrases: [guaranteed top grade, you'll definitely get an A, 100% success rate, get an A first try for sure]
      say: "Results depend on the student; we can share last year's results, but we can't promise a grade."
"""


@pytest.mark.parametrize("rep, fires", [
    # the words of a promise without the promise: a result, said as one
    ("Honestly most of our exam prep students get an A first try, like seventy percent of them.", False),
    ("Our success rate is around 78 percent, which we're proud of.", False),
    # the promise given in the next breath is still the promise
    ("With us she'll get an A this time. I guarantee it.", True),
    ("She'll get an A first try for sure.", True),
    ("We've got a 100% success rate.", True),
])
def test_a_forbidden_promise_needs_the_promise_and_its_number(embedder, rep: str, fires: bool) -> None:
    det = ComplianceDetector(KBIndex(load_kb_text(TUTOR_KB, source="tutor"), embedder))
    got = det.on_utterance(Utterance(0, Speaker.REP, 0.0, 4.0, rep), CallState(), 4.0)
    assert bool(got) == fires, got


GARAGE_KB = """
company: Harbor Garage Doors
products:
  - id: opener
    name: Smart opener
    price: "$349 installed"
opportunities:
  - id: smart-opener
    signals: [lose my remote all the time, opener is really loud, want to open it from my phone]
    offer: opener
    say: The Smart opener lets you open the door from your phone and runs quietly.
"""


@pytest.mark.parametrize("said, fires", [
    ("Honestly the opener is really loud, it wakes the whole house.", True),
    ("Can I open it from my phone with that one?", False),
    ("Okay. Does the smart one open from my phone?", False),
    # a question the recogniser wrote without its question mark
    ("ok a year ok how loud is the opener does it wake the house", False),
    ("ok yeah the opener is really loud it wakes the house", True),
])
def test_an_opportunity_is_a_need_told_not_a_question_asked(embedder, said: str, fires: bool) -> None:
    """A lead who asks about a feature gets an answer from the rep; the card is
    for a need the lead tells and the rep may let pass."""
    det = OpportunityDetector(KBIndex(load_kb_text(GARAGE_KB, source="garage"), embedder))
    u = Utterance(0, Speaker.LEAD, 0.0, 4.0, said)
    call = CallState()
    call.utterances.append(u)
    det.on_utterance(u, call, 4.0)
    assert bool(det.watch.pending) == fires, det.watch.pending


def test_naming_what_is_sold_is_not_a_need(embedder, tmp_path) -> None:
    """A lead calling about a product is close on meaning to every need that
    names it ("just calling about piano tuning prices" ~ "we tune it every few
    months"): a match on meaning must be closer to the signal than to the
    KB's own products and facts. The need said in other words still fires."""
    from intervene.core.detect.phrases import match_owners, signal_units, units_of
    from intervene.kb.loader import load_kb
    kb = tmp_path / "kb.yaml"
    kb.write_text("""company: Keynote Pianos
products:
  - id: tuning
    name: Piano tuning
    aliases: [tuning, a tune-up]
    price: "$140 per visit"
    facts:
      - A tuning visit takes about 90 minutes.
  - id: care
    name: Piano Care plan
    price: "$45 per month"
    facts:
      - Includes three tunings a year and one humidity check.
  - id: moving
    name: Piano moving
    price: "from $350"
opportunities:
  - id: regular
    signals: [we tune it every few months, get the piano tuned regularly]
    say: Since you tune it often, the Piano Care plan covers three tunings a year for $45 a month.
    offer: care
  - id: move
    signals: [we're moving house soon, relocating next month]
    say: If you're moving, we can move the piano and tune it after.
    offer: moving
""")
    index = KBIndex(load_kb(kb), embedder)
    p = PROFILES["standard"]

    def needs(said: str, margin: float | None = p.signal_topic_margin) -> set[str]:
        units = units_of(said) + signal_units(said, (p.signal_window_short, p.signal_window_long),
                                              p.signal_window_stride)
        return set(match_owners(index, said, "opportunity:", p.signal_sim, units,
                                partial_sim=p.signal_partial_sim, topic_margin=margin))

    for said in ["hi yeah I'm just calling about piano tuning prices",
                 "Hello, I wanted to book a piano tuning for my upright."]:
        assert "regular" not in needs(said), said
        assert "regular" in needs(said, margin=None), said          # on meaning alone it would be
    for said in ["we have the piano tuned every three months or so, my daughter's a pianist",
                 "honestly we're relocating across town next month"]:
        assert needs(said) & {"regular", "move"}, said


@pytest.mark.parametrize("lead, told_part", [
    ("the other thing is there's a big oak over the bedroom", "there's a big oak"),
    ("what worries me is there're kids in the yard all day", "kids in the yard"),
])
def test_there_is_tells_and_is_there_asks(lead: str, told_part: str) -> None:
    """"Is there" opens a question the recogniser may leave unmarked; "there's"
    after "is" tells something (a need the rep may miss)."""
    assert told_part in " ".join(told(lead))
    assert told("ok is there a warranty on that") == ["ok"]


# ------------------------------------------------- promotions and required questions, in other words

LINGUA = """
company: Lingua Bridge
products:
  - id: document
    name: Document Translation
    aliases: [document translation, translation]
    price: "$0.15 per word"
  - id: video
    name: Video Interpreting
    aliases: [video interpreting, interpreting by video]
    price: "$80 per hour"
  - id: onsite
    name: On-site Interpreting
    aliases: [on-site interpreting, onsite interpreting]
    price: "$120 per hour"
  - id: club
    name: Partner Club
    aliases: [partner club]
    price: "$300 a month"
promotions:
  - id: first-order
    text: >-
      New clients get 20% off their first Document Translation order, placed by May 31;
      Video Interpreting and On-site Interpreting are not eligible.
    signals: [first time using you, we've never used you before, our first order]
  - id: club-spring
    text: Partner Club members who join by April 30 pay $150 for the first month; it cannot be combined with the Video Interpreting launch discount.
    signals: [start this month, ready to sign up]
  - id: any-plan
    text: Veterans get 10% off any service, ongoing.
    signals: [i'm a veteran]
  - id: except
    text: Refer a client and get $50 credit on everything except On-site Interpreting.
    signals: [a colleague might need you]
compliance:
  required:
    - id: ask-languages
      phrases: [which languages, what language pair]
      within_s: 60
    - id: ask-deadline
      phrases: [when do you need it, what is your deadline]
      within_s: 90
"""


@pytest.fixture(scope="module")
def lingua(embedder) -> KBIndex:
    return KBIndex(load_kb_text(LINGUA, source="lingua-bridge"), embedder)


@pytest.mark.parametrize("promo, product, fits", [
    ("first-order", "document", True),
    ("first-order", "video", False),          # "... are not eligible"
    ("first-order", "onsite", False),
    ("club-spring", "club", True),
    ("club-spring", "video", True),            # named only as another offer it is not combined with
    ("any-plan", "onsite", True),              # "any service"
    ("except", "onsite", False),               # "everything except ..."
    ("except", "video", True),
])
def test_a_promotion_is_for_the_products_its_text_does_not_bar(lingua, promo: str, product: str, fits: bool) -> None:
    text = next(p.text for p in lingua.kb.promotions if p.id == promo)
    assert promotion_for(lingua, text, product) == fits


@pytest.mark.parametrize("product, raised", [("video", False), ("onsite", False), ("document", True), (None, True)])
def test_a_promotion_barred_for_the_product_under_discussion_is_not_raised(lingua, product, raised: bool) -> None:
    """"This is our first order with you" while an interpreting booking is being
    discussed: the first-order offer bars interpreting, so it is no missed
    promotion; while a translation is discussed (or nothing yet), it is."""
    d = OpportunityDetector(lingua)
    u = Utterance(0, Speaker.LEAD, 10.0, 14.0, "Okay. And how does billing work? This is our first order with you.")
    call = CallState(product=product)
    call.utterances.append(u)
    d.on_utterance(u, call, 14.0)
    assert bool([p for p in d.watch.pending if p.key == "promotion:first-order"]) == raised


@pytest.mark.parametrize("phrase, said, hit", [
    ("which languages", "great um what languages are the documents in", True),
    ("which languages", "What language is the contract in, and which one do you need it in?", True),
    ("what car is it", "So you're looking at a home charger. Which car are you driving?", True),
    ("how many lines", "so how many lines would that be, just the two of them?", True),
    ("how many lines", "how much data do you use on those lines", False),     # another question
    ("which languages", "we cover more than forty languages", False),         # no question
    ("when do you need it", "what do you need it for", False),
    ("what is your deadline", "what deadline are you working to?", True),
])
def test_a_required_question_asked_in_other_words(phrase: str, said: str, hit: bool) -> None:
    """The same question word ("what" and "which" alike) with every content word
    of the required question asks it, however far the rest is on meaning."""
    assert asks_same(phrase, said) == hit


def test_a_required_question_asked_in_other_words_covers_the_step(lingua) -> None:
    d = RequiredDetector(lingua, PROFILES["training"])
    call = CallState()
    for i, (speaker, text) in enumerate([(Speaker.REP, "Hi, this is Sam from Lingua Bridge."),
                                         (Speaker.REP, "great um what languages are the documents in")]):
        u = Utterance(i, speaker, 5.0 * i, 5.0 * i + 4, text)
        call.utterances.append(u)
        d.on_utterance(u, call, u.end)
    assert any(k.endswith("ask-languages") for k in d.covered), d.covered
    assert not any(k.endswith("ask-deadline") for k in d.covered), d.covered
