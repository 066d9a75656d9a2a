"""An intervention the engine decided, recorded where it counts: on the
rep's screen and in the store. Live calls (pbx/) and practice calls (here)
record theirs the same way, so a card a rep sees is always one the store
holds, under the same call id and number.
"""
from __future__ import annotations

import time
from typing import Any

from intervene.screen.hub import Hub
from intervene.store.db import Store
from intervene.vocab import Intervention


def record_intervention(store: Store, hub: Hub, call_id: str, seq: int, iv: Intervention,
                        delivery: str = "pending") -> dict[str, Any]:
    """The screen first: that is the latency a rep feels. The store in the
    same breath (nothing else runs in between), so feedback on the card
    always finds its row. Returns the card as the screens got it."""
    card = hub.card(call_id, seq, iv, time.time(), delivery=delivery)
    store.add_intervention(call_id, seq, iv)
    return card
