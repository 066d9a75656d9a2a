"""[redaction] and [retention]: what personal data is taken out of what is
said, and how long records are kept.

    [redaction]                # every kind on unless switched off here
    card = true                # payment card numbers (Luhn-checked, or after "card number")
    security_code = true       # CVV/CVC after a card
    expiry = true              # expiry dates after a card
    ssn = true                 # US Social Security numbers
    bank_account = true        # account, routing, sort code, IBAN

    [retention]                # days; 0 or absent keeps for ever
    transcripts = 90
    interventions = 365
    leads = 180
    webhook_inbox = 30
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from intervene.store.privacy import RetentionOptions
from intervene.vocab import REDACT_ALL, Redact


def redaction_kinds(raw: Any) -> frozenset[Redact]:
    """The kinds switched on (ValueError naming the bad key)."""
    if raw is None:
        return REDACT_ALL
    if not isinstance(raw, dict):
        raise ValueError("must be a table of kind = true|false")
    on = set(REDACT_ALL)
    names = ", ".join(k.value for k in Redact)
    for key, value in raw.items():
        try:
            kind = Redact(key)
        except ValueError:
            raise ValueError(f"unknown kind `{key}` (expected one of {names})") from None
        if not isinstance(value, bool):
            raise ValueError(f"`{key}` must be true or false, got {value!r}")
        if not value:
            on.discard(kind)
    return frozenset(on)


def retention_options(raw: Any) -> RetentionOptions:
    """Days per kind of record (ValueError naming the bad key)."""
    if raw is None:
        return RetentionOptions()
    if not isinstance(raw, dict):
        raise ValueError("must be a table of kind = days")
    names = [f.name for f in fields(RetentionOptions)]
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in names:
            raise ValueError(f"unknown key `{key}` (expected one of {', '.join(names)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"`{key}` must be a number of days (0 or more; 0 keeps for ever), got {value!r}")
        out[key] = float(value)
    return RetentionOptions(**out)
