"""The claim checker's compiled regexes, word sets and thresholds, each with
the phrasing it was written for. Kept together so a change to what a check
hears is made, and reviewed, in one place."""
from __future__ import annotations

import re

from intervene.core.detect.numbers import UNIT_WORDS
from intervene.nlp.lexicon import content_words

SIM_QUANTITY = 0.45      # a fact this similar is about the same thing as the unit
SIM_POLARITY = 0.45      # (0.40 for a fact of the very product the rep is talking about)
     # polarity needs a closer match: the feature must be the same
SIM_BARE = 0.6          # a number said without "dollars" is checked against a fact's price only this close
SIM_PRODUCT = 0.55       # "which product" needs the same sentence shape
CLAUSE_PENALTY = 0.05   # a fact found through the whole sentence counts slightly less for a clause
SUPPORT_MARGIN = 0.03    # an alternative fact this close to the best one may vindicate the claim
TOPIC_MARGIN = 0.10     # facts this much less similar than the closest one are another topic
MAGNITUDE = 5.0          # said and KB values this many times apart: likely a mishearing
QUANTITY_MARGIN = 0.08   # ... for a number the rep got exactly right somewhere relevant
SIM_OWNERSHIP = 0.50     # a fact of another product this close says whose feature it is
JUDGE_SURE = 0.5         # the judge's contradiction probability below which nothing is spoken ...
JUDGE_REJECTS = 0.1      # ... and below which nothing is shown, if the rules had a doubt of their own
JUDGE_AGREES = 0.9       # ... and at or above which it is sure of a number the rules doubted (see policy)

# verbs that carry no feature: "includes X" and "doesn't include X" are about X
LIGHT = frozenset("""include includ come cover offer provide get have has had is are was be been
 give gets carry carrie feature contain add allow let make take plan package tier""".split())
EXTRA = re.compile(r"\b(?:add|adds|adding|add-on|addon|extra|upgrade|separate|separately|on top|additional|buy|"
                   r"purchase|you'?d need|you need|requires?)\b", re.I)
APPROX = re.compile(r"\b(?:around|roughly|about|approximately|maybe|like|or so|ish|say|almost|nearly|"
                    r"close to|just under|just over|a little under|a little over|well under|well over)\s*$", re.I)

# a figure the rep says it is not: "a single private is $120, not $100", "instead of 30 days"
DENIED_VALUE = re.compile(r"(?:\bnot|\bnever|\binstead of|\brather than)\s*$", re.I)

# ("everyone else gets seven" is the others, not everybody)
UNIVERSAL = re.compile(r"\b(?:(?:every ?one|every ?body|any ?one|any ?body)(?! else\b)|all (?:customers|clients|members|plans|"
                       r"tiers|students|patients|packages|units|sizes)|any (?:plan|tier|package|unit|size|customer)|every (?:plan|tier|package|unit|size|customer)|no matter|regardless|"
                       r"whoever|whether)\b", re.I)
# a fee for leaving before the term is out
EARLY_EXIT = re.compile(r"\b(?:early (?:cancellation|termination)|cancel\w* early|(?:cancellation|termination|exit) fee|"
                        r"(?:of|for) the remaining (?:months?|payments?|balance|term|fees?))\b", re.I)
# (frame, what the rep says, what the KB must say for it to be a contradiction)
POLICY_FRAMES = (
    ("notice", re.compile(r"\b(?:no notice|without (?:any )?notice|no need to (?:tell|give|warn)|not locked in|never locked in|"
                          r"no commitment|no minimum (?:term|commitment)|cancel(?:l?ed)? (?:at )?any ?time|stop (?:at )?any ?time|"
                          r"walk away (?:at )?any ?time)\b", re.I),
     re.compile(r"\b\d+[- ](?:days?|weeks?|months?)'?s?'? (?:written |advance )?notice\b|\bnotice of \d+|"
                r"\bminimum (?:term|commitment) of\b|\b\d+-month (?:minimum|commitment|term)\b|"
                # ("can be cancelled for a full refund up to 72 hours before the install date")
                r"\b\d+ (?:business |working |calendar )?(?:hours?|days?|weeks?)'? (?:before|prior to|in advance)\b", re.I)),
    ("refund", re.compile(r"\b(?:refund|money back|pay you back|credit you)\w*\b[^.]{0,60}\b(?:unused|whatever'?s left|"
                          r"remaining|rest of|prorat\w*|pro-rat\w*|partial|the months? you|left over|didn'?t use|"
                          r"haven'?t used|hadn'?t used)|\b(?:unused|remaining|prorat\w*)\b[^.]{0,40}\brefund", re.I),
     re.compile(r"\b(?:non-?refundable|no refunds?|not (?:be )?refunded|are not refunded|is not refunded|"
                r"isn'?t refunded|cannot be refunded|can'?t be refunded|no money back)\b", re.I)),
    ("carry-over", re.compile(r"\b(?:rolls?|rolled|rolling|carr(?:y|ies|ied)|carrying) (?:\w+ )?over\b|"
                              r"\b(?:never|don'?t|doesn'?t|won'?t) expire\b", re.I),
     re.compile(r"\b(?:(?:do|does|will|can) ?not|don'?t|doesn'?t|won'?t|can'?t|cannot) (?:be )?(?:roll|carr)\w* over\b|"
                r"\bno (?:roll-? ?over|carry-? ?over)\b|\bforfeit\w*|\buse (?:it|them) or lose\b", re.I)),
)
# the rep says two offers go together ("the trade-in credit stacks on top of the holiday deal") ...
_OFFER_WORD = r"(?:discounts?|offers?|deals?|credits?|bonus(?:es)?|promo\w*|specials?|savings?|coupons?|rebates?)"
# ("7 steps combined" is a total: "combined" stacks only as a verb, "can be combined with")
STACK_SAID = re.compile(r"\bstack(?:s|ed|ing)\b|\bstack (?:them|those|these|that|both|with|on)\b|\bcombines?\b|"
                        r"\b(?:be|been|being|is|are|get|gets)\s+combined\b|\bcombined\s+with\b|"
                        r"\b(?:they|those|these|both|the two|it|you can|" + _OFFER_WORD + r") (?:all |both |will |would |do |can )?stack\b|"
                        r"\b(?:use|get|have) (?:them |both |the two )?together\b|\bboth together\b|"
                        r"\bon top of (?:the|your|that|this)\b[^.;]{0,30}\b" + _OFFER_WORD + r"\b|"
                        r"\b" + _OFFER_WORD + r"\b[^.;]{0,15}\bon top\b", re.I)
OFFER_SAID = re.compile(r"\b" + _OFFER_WORD + r"\b|%|\bpercent\b|\boff\b", re.I)
# ... where the KB says they do not; the group is what it is not combined with
NO_STACK = re.compile(r"\b(?:can ?not|can'?t|may not|must not|is not to|are not to) be (?:combined|stacked|used together|"
                      r"used with)\b([^.;]*)|\bnot combinable with\b([^.;]*)|"
                      r"\b(?:does not|doesn'?t|do not|don'?t|will not|won'?t) (?:stack|combine)\b([^.;]*)|"
                      r"\bcombined with\b[^.;]*\bbut not (?:with )?\b([^.;]*)|\bno (?:stacking|combining)\b([^.;]*)", re.I)
TERM_OVER = re.compile(r"\b(?:(?:end|after|once|when)\b[^.]{0,20}\b(?:term|contract|agreement|commitment|months|years?)\b"
                       r"[^.]{0,12}\b(?:up|over|ends?|ended|finished|done|is out)|end of (?:the|your) (?:term|contract|agreement)|"
                       r"out of contract|after the (?:minimum|initial|first) (?:term|contract|period))\b", re.I)
# the rep's own words deny it ("unused hours don't roll over")
DENIED = re.compile(r"\b(?:don'?t|doesn'?t|do not|does not|won'?t|will not|can'?t|cannot|never|not|no)\s+"
                    r"(?:(?:just|really|ever|actually|automatically|simply|be)\s+)?$", re.I)
# the rep states the refund window themself ("refunded within 30 days of purchase")
WINDOW_GIVEN = re.compile(r"\b(?:within|in the first|during the first|first)\s+\d+\s*(?:days?|weeks?|months?)\b|"
                          r"\b\d+-(?:day|week|month)\b|\b\d+\s*(?:days?|weeks?|months?)\s+(?:from|of|after)\b", re.I)
# the customer's own quantity, not a claim: "for your 23 squares", "you've got 3 kids"
# ("you've got 14 days to cancel" before a number is a grant, not the customer's own)
# "a 10 year old puzzle fan", "the 11-year-old": a person the rep describes, not a figure claimed
# ("players must be 8 years old", "under 8 years old" still are)
# the product a number is said of, named right after it: "25 years on Essential", "$49 a month for the Basic"
NAMED_AFTER = re.compile(r"\s*(?:(?:a|an|per|each)\s+[\w-]+\s+)?(?:on|for|with)\s+(?:the\s+|our\s+)?$", re.I)
PERSON_BEFORE = re.compile(r"\b(?:a|an|the|your|my|his|her|their|our|this|that|these|those|\d+)\s+$", re.I)
PERSON_AGE = re.compile(r"[\s-]*olds?\b", re.I)
YOURS = re.compile(r"\b(?:your|you said|you mentioned|you told me)\s+(?:\w+\s+)?$", re.I)
YOURS_AFTER = re.compile(r"\s+(?:\w+\s+){0,2}?(?:you'?ve got|you have|you got|you said|you mentioned|you told me)\b",
                         re.I)
# "$6.99 a month extra": what something costs on top, not a plan's own price
SURCHARGE = re.compile(r"\s*(?:(?:a|an|per|each|every)\s+\w+\s+)?(?:extra|on top|more|additional|add-on)\b", re.I)
# "..., so $67 for a single lesson": what follows is worked out from what came before
DERIVED = re.compile(r"\b(?:so|that'?s|that makes|which (?:makes|is|comes to)|comes? to|in total|total(?:s|ling)?|"
                     r"altogether|works? out|making it|all in|bringing it)\b", re.I)
# "the two together come to $898", "with the switching discount it's 63.20", "it drops to $4,500":
# an amount the rep works out from the KB's (a sum, a discount applied), not one the KB states
# ("then it goes to $14.99" is a price of its own: the KB's next step)
# "25 times 1.95": a number multiplied, not a multiple the KB states ("10 times the charge")
TIMES_NUMBER = re.compile(r"(?<=times)\s+\$?\d|(?<=\d)\s*(?:x|times|multiplied by)\s+\$?\d", re.I)
WORKED_OUT = re.compile(r"\b(?:comes?|came|coming) (?:out )?to\b|\badds? up\b|\bworks? out\b|\bin total\b|"
                        r"\baltogether\b|\ball in\b|\b(?:together|combined|for both|both together)\b|"
                        r"\b(?:drops?|dropped|brings?|brought|knocks?|bringing|"
                        r"reduced|lowered|cut)\s+(?:\w+\s+)?(?:down|off)?\s*to\b|\bdown to\b|"
                        r"\b(?:with|after|once|including|applying)\s+(?:the|that|this|your|our|a)\s+(?:[\w-]+\s+){0,2}?"
                        r"(?:discount|deal|offer|promo(?:tion)?|rebate|credit|savings?|coupon)\b", re.I)
# "for 4 of you", "6 seats": a count of the people a per-user price is for
PEOPLE = frozenset("user person people seat member guest employee staff head student learner attendee".split())
OF_PEOPLE = re.compile(r"\s+(?:of (?:you|us|them)|people|persons|folks|guys)\b", re.I)
# "the Summit goes 5 years beyond that", "3 years longer than the Harbor", "2 more than Basic":
# a difference from something said, not the amount itself
RELATIVE = re.compile(r"\s*(?:(?:years?|months?|weeks?|days?|hours?|[\w-]+)\s+)?(?:beyond|longer|shorter|more than|"
                      r"less than|fewer than|on top of (?:that|it|the)|over that|past that|than (?:that|the|it))\b",
                      re.I)
HALF = re.compile(r"\bhalf\b", re.I)
# an amount said against another product's: "80 dollars a month under Full", "$20 more than Growth"
APART = re.compile(r"\s*(?:(?:a|an|per)\s+\w+\s+)?(?:under|below|cheaper than|less than|more than|over|above)\s+"
                   r"(?:the\s+)?([\w-]+)", re.I)
# the rep not charging for something ("the installation is waived"), and any word that puts a fee aside
WAIVES = re.compile(r"\bwaiv(?:e|ed|es|ing)\b|\bfree\b|\bno (?:extra |additional )?(?:charge|cost)\b", re.I)
EXEMPTS = re.compile(WAIVES.pattern + r"|\b(?:unless|except|included|otherwise|instead|complimentary|credit(?:ed|s)?|"
                     r"goes? (?:toward|towards|against)|comes? off)\b", re.I)
# "you've got what, four lessons left": the customer's own balance, not a term of the offer
BALANCE = re.compile(r"\s+(?:[\w-]+\s+){0,2}?(?:left|remaining|to go|used(?: up)?|so far)\b", re.I)
OFF_NEAR = re.compile(r"\s*(?:[\w-]+\s+){0,2}(?:off|discount|discounted|savings?|less|lower|reduction|cheaper)\b", re.I)
PLAN_NOUNS = frozenset(content_words("plan plans package packages tier tiers program programs membership "
                                     "subscription bundle option service the"))
GIVES_OFF = re.compile(r"\b(?:discount|discounted|off)\b[^.;]{0,20}$", re.I)   # "a discount of 10%", "off by 10%"
SAVE = re.compile(r"\b(?:save|saves|saving|discount of|knock(?:s|ed)? off|take)\s+(?:you\s+)?(?:an? )?(?:extra\s+)?$", re.I)
NOTICE_GIVEN = re.compile(r"\d[^.]{0,25}\bnotice|\bnotice of \d|\b(?:days?|weeks?|months?)'? ahead\b|"
                          r"\b\d+ (?:business |working |calendar )?(?:hours?|days?|weeks?|months?) (?:before|prior|in advance)\b", re.I)
# the rep saying something costs nothing; and what says a KB fact is free on some terms
FREE_CLAIM = re.compile(r"\b(?:(?:it'?s|is|are|'s|be|comes?|for) (?:totally |completely |entirely |absolutely |always |"
                        r"just |100% |a hundred percent )?free\b|free of charge|no (?:extra |additional )?"
                        r"(?:charge|cost|fee)s?\b|at no (?:extra |additional )?(?:charge|cost)|"
                        r"(?:doesn'?t|does not|won'?t|will not|don'?t|do not) cost (?:anything|a thing|extra|more)|"
                        r"(?:you|we) (?:don'?t|won'?t) (?:pay|charge) (?:for|anything|extra))", re.I)
NOT_FREE = re.compile(r"\b(?:not|isn'?t|aren'?t|never|wasn'?t)\s+(?:\w+\s+){0,1}$", re.I)
FREE_FACT = re.compile(r"\b(?:free|waived?|complimentary|included|no charge|credited)\b", re.I)
SIM_FREE = 0.5
SIM_SCOPE = 0.5        # an offer this close is the one the rep is giving away
# one product put inside another: "X comes included with Y", "X is part of Y", "Y includes X"
PUT_IN = re.compile(r"\b(?:(?:is|are|comes?|come|'s|'re)\s+(?:\w+\s+)?(?:included|bundled|built)\s+(?:with|in|into|on)|"
                    r"(?:is|are|'s)\s+(?:\w+\s+)?part of|(?P<has>includes|comes with|has|gets))\b", re.I)
# a seller other than us as the subject of a price ("they're at", "they charge", "their price")
THEY_SELL = re.compile(r"\b(?:they'?re at|they are at|they charge|they offer|they quoted?|they ask|they want|"
                       r"they lock|they sell|their (?:price|rate|plan|fee|deal|offer)s?)\b", re.I)
# the rep making an offer everyone's: "any of the three plans", "either one", "every package"
ANY_PLAN = re.compile(r"\b(?:(?:on|to|for|with) any (?:of (?:the|our|them)\b(?:\s+\w+)?(?:\s+(?:plans|packages|tiers|"
                      r"programs|packs|options|levels|memberships))?|(?:plan|package|tier|program|pack|option|level|"
                      r"membership|one)s?\b)|(?:on|to|for) (?:either|both|every|all) (?:one|of (?:them|the \w+)|"
                      r"plans?|packages?|tiers?|programs?|packs?|options?|three|two)\b|"
                      r"(?:any|all|every|either) (?:plans?|packages?|tiers?|programs?|packs?|of them|one)\b)"
                      r"(?!-)", re.I)     # ("10% off any one-off job" is about the job, not the plans)
# ... or a plan it isn't for: "Essential included", "even the Starter", "on Essential too"
GIVEN_AFTER = re.compile(r"[\w'-]*\W+(?:\w+\W+)?(?:included|too|as well)\b", re.I)
GIVEN_BEFORE = re.compile(r"\b(?:even\s+(?:on\s+|for\s+|with\s+)?(?:the\s+|your\s+)?|(?:works|applies|valid|good|goes)\s+"
                          r"(?:on|to|for|with)\b[^.;!?]*)$", re.I)
# what makes a fact an offer: a discount, something free, a deal
DEAL = re.compile(r"\b(?:off|discount\w*|free|waived?|save|bonus|promo\w*|offer|deal)\b", re.I)
PLAN_NOUN = re.compile(r"\b(?:plans?|packages?|tiers?|programs?|packs?|options?|levels?|memberships?|three|two)\b",
                       re.I)
NEW_CLAUSE = re.compile(r"[,;:]|\b(?:but|and|so|while|whereas)\b", re.I)
SEPARATE = re.compile(r"\b(?:separately|add-on|addon|not (?:included|part)|excluded|on its own|costs? extra)\b", re.I)
BENEFIT = frozenset(w[:4] for w in "waive free discount included eligible refund complimentary credited".split())
# benefits that say the same ("free for everybody" widens "waived for returning customers")
SAME_BENEFIT = {"waiv": "free", "comp": "free", "incl": "free"}
# a discount named by its size or as one ("the 20% is for everyone", "10 off")
PCT_OR_OFF = re.compile(r"\d\s*(?:%|percent|per cent)|\boff\b", re.I)
# both sides of a condition said together: "new or returning", "members and non-members"
BOTH_SIDES = re.compile(r"\b(\w+(?:-\w+)?),? (?:or|and|as well as) (?:non-?)?(\w+(?:-\w+)?)\b", re.I)
ONLY_IF = re.compile(r"\b(?:only|if|unless|except|excluded|provided|as long as|waived (?:on|for|with|when)|"
                     r"free (?:on|for|with) (?!every|any|all\b)|for (?:new|returning|existing|"
                     r"members?|students?|customers? who|patients? who|anyone who))\b", re.I)


# (also after a short phrase naming where it applies: "On the Haven 6 it's a $199 add-on")
PRONOUN_START = re.compile(r"(?:and |so |(?:yeah|yep|yup|yes|sure|nope|no|oh|right|absolutely|of course),? )?"
                           r"(?:(?:on|for|with) (?:the )?[\w-]+(?: [\w-]+){0,2},? )?"
                           r"(?:it'?s|it is|it|that'?s|that is|this is|they'?re|they are|those|these|they|both)\b", re.I)


CUE_WORDS = frozenset(content_words("sold separately priced billed purchased bought waive waived waiving excluded "
                                    "non bring brings supply provide own"))
SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen twenty").split()

# words that put a fact under a condition ("waived for returning customers", "on annual plans")
CONDITION_WORDS = frozenset(content_words("""new returning existing current member members non-member
 nonmember annual annually yearly prepay prepaid upfront autopay referral senior veteran military
 weekend weekends weekday weekdays peak off-peak holiday holidays unless except only additional trial
 introductory""")) - {"non"}

# words too general to be the feature a claim includes or excludes
GENERIC = frozenset(content_words("""cost costs fee fees charge charges price pay paid free extra time day days
 month year service services plan option thing available apply work need want get use come part cover
 covered right now today one two anything everything"""))

# "no one-way fee", "no booking charge": a fee said not to apply
FEE_WORD = re.compile(r"\bno\s+(?:[\w-]+\s+){0,2}?(?:fee|charge|surcharge|deposit|cost)s?\b", re.I)

# the rep asserting that something is part of the offer
INCLUDES = re.compile(r"\b(?:includ\w*|comes? with|came with|cover\w*|you(?:'ll| will)? get|gets|got|has|have|"
                      r"had|offer\w*|part of|free|no extra|no charge|at no cost|thrown? in|bundled|available|"
                      r"there'?s|there is|it'?s got|also|too|as well|plus|on top|goes on|eligible|allowed|"
                      r"can|unlimited)\b", re.I)

# a fact whose statement holds within limits or under conditions
LIMITED = re.compile(r"\b(?:up to|only|if|when|unless|except|over|under|more than|less than|longer|shorter|"
                     r"after|before|within|for (?:new|returning|existing|members?|non-?members?))\b", re.I)


def feature_words(text: str, exclude: set[str]) -> set[str]:
    """Feature words: what a sentence includes or excludes, without verbs like
    "includes", the words that negate ("sold separately", "waived"), product
    names, numbers or units (those are the quantity check's)."""
    return {w for w in content_words(text)
            if w not in LIGHT and w not in exclude and w not in UNIT_WORDS and not w[:1].isdigit()
            and w not in CUE_WORDS}
