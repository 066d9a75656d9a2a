"""The claim checker, one module per topic: `checker` (ClaimChecker, which
orchestrates), `facts` (what is read in each KB fact at start-up), `retrieve`
(candidate facts), `quantities` and `binding` (numbers), `polarity`
(included vs excluded), `policy` (number-less terms, free, universal claims),
`products` (whose feature, which tier), `verdict` (confidence, doubts, the
judge, the spoken correction) and `patterns` (the regexes and word sets).
The names importers use are re-exported here."""
from intervene.core.detect.claims.checker import ClaimChecker, UtteranceCheck
from intervene.core.detect.claims.patterns import PRONOUN_START as _PRONOUN_START
from intervene.core.detect.claims.verdict import doubted

__all__ = ["ClaimChecker", "UtteranceCheck", "doubted", "_PRONOUN_START"]
