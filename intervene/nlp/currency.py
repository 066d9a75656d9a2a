"""Currencies as people say and write them: the one table every reader of money uses.

The claim checker (`intervene.nlp.lexicon`) and the lead qualifier
(`intervene.leads.understand.budget`) both have to decide that "15 grand in
euros", "£500" or "two thousand Canadian dollars" is money and in which
currency; when each kept its own list they disagreed. A name such as "dollar"
or "pound" is shared by several countries, so it maps to every ISO code it may
mean, the usual one first: a reader that knows the caller's own currency picks
that one when it is listed ("$" is CAD for a Canadian caller), else the first.
"""
from __future__ import annotations

__all__ = ["SYMBOLS", "SYMBOL_PREFIXES", "WORDS", "CODES", "DOLLAR_ADJECTIVES", "WRITTEN_BEFORE",
           "HOMOGRAPHS", "SPOKEN_NAMES", "resolve"]

# One row per way of naming money: the codes it may mean (usual first) | symbols written
# before the amount | words said after it. The same codes may head several rows ("£" is
# always GBP, "pound" may be the Egyptian one).
_TABLE = """
USD CAD AUD NZD SGD HKD | $ | dollar dollars buck bucks
EUR                     | € | euro euros eur
GBP EGP                 |   | pound pounds quid sterling
GBP                     | £ |
INR PKR LKR NPR         |   | rupee rupees rs inr
INR                     | ₹ |
MXN PHP ARS COP CLP     |   | peso pesos
NOK DKK SEK             |   | krone kroner krona kronor
JPY                     | ¥ | yen
CNY                     |   | yuan rmb renminbi
CHF                     |   | franc francs
ZAR                     |   | rand
BRL                     |   | reais
AED                     |   | dirham dirhams
SAR                     |   | riyal riyals
NGN                     | ₦ | naira
KES                     |   | shilling shillings
PLN                     |   | zloty
TRY                     |   | lira
MYR                     |   | ringgit
THB                     |   | baht
KRW                     | ₩ | won
RUB                     |   | rubles roubles
PHP                     | ₱ |
"""


def _read(table: str) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    symbols: dict[str, tuple[str, ...]] = {}
    words: dict[str, tuple[str, ...]] = {}
    for row in filter(None, (r.strip() for r in table.splitlines())):
        codes, syms, said = (part.split() for part in row.split("|"))
        symbols.update(dict.fromkeys(syms, tuple(codes)))
        words.update(dict.fromkeys(said, tuple(codes)))
    return symbols, words


SYMBOLS: dict[str, tuple[str, ...]]
"""Symbol written before an amount ("$49", "€12") -> the codes it may mean."""
WORDS: dict[str, tuple[str, ...]]
"""Word said after an amount ("49 dollars", "500 quid") -> the codes it may mean."""
SYMBOLS, WORDS = _read(_TABLE)

# ISO codes written as such, before or after the amount ("USD 49", "49 usd"). Not every code
# in the table: "cop" and "ars" are better left to English.
CODES: dict[str, str] = {c.lower(): c for c in (
    "USD CAD AUD NZD SGD HKD GBP EUR INR JPY CNY CHF ZAR BRL AED SAR NGN KES PLN TRY MYR THB KRW MXN PHP "
    "SEK NOK DKK").split()}
# Abbreviations written before an amount as well as after it ("Rs 500").
WRITTEN_BEFORE = frozenset({"rs"})
# What a letter prefix makes of "$": "US$", "C$", "A$", "NZ$", "S$", "HK$".
SYMBOL_PREFIXES: dict[str, str] = {"us": "USD", "ca": "CAD", "c": "CAD", "au": "AUD", "a": "AUD", "nz": "NZD",
                                   "s": "SGD", "hk": "HKD"}
# Which dollar, said before "dollars": "Canadian dollars", "Aussie dollars".
DOLLAR_ADJECTIVES: dict[str, str] = {"us": "USD", "american": "USD", "canadian": "CAD", "australian": "AUD",
                                     "aussie": "AUD", "kiwi": "NZD", "singapore": "SGD"}
# Names of money that are also everyday English ("the top 3 won", "give it 1 try", "925 sterling
# silver", "2 php developers"): a reader needs other evidence of money before taking them as currency.
HOMOGRAPHS = frozenset({"won", "try", "sterling", "php"})

# How to say a currency back to a caller ("about 15,000 euros").
SPOKEN_NAMES: dict[str, str] = {
    "USD": "dollars", "EUR": "euros", "GBP": "pounds", "INR": "rupees", "JPY": "yen", "CAD": "Canadian dollars",
    "AUD": "Australian dollars", "NZD": "New Zealand dollars", "CNY": "yuan", "CHF": "Swiss francs", "ZAR": "rand",
    "MXN": "pesos"}


def resolve(codes: tuple[str, ...], home: str) -> str:
    """The code a caller whose own currency is `home` means by a name: `home` when the name
    may mean it ("dollars" from a Canadian), else the name's usual code; `home` when no
    currency was named."""
    if not codes:
        return home
    return home if home in codes else codes[0]
