"""An intervention the engine decided, recorded where it counts: on the
rep's screen and in the store. Live calls (pbx/) and practice calls (here)
record theirs the same way, so a card a rep sees is always one the store
holds, under the same call id and number.
"""
from __future__ import annotations

import time
from typing import Any, Union

from intervene.screen.hub import Hub
from intervene.store.db import Store
from intervene.store.worker import StoreWorker
from intervene.vocab import Intervention


def record_intervention(db: Union[StoreWorker, Store], hub: Hub, call_id: str, seq: int, iv: Intervention,
                        delivery: str = "pending") -> dict[str, Any]:
    """The screen first: that is the latency a rep feels. The store in the
    same breath: the running service passes its StoreWorker, which writes
    off the event loop, in order, and keeps the row through a locked
    database; feedback on the card reads through the same worker, after
    this write, so it always finds its row. A Store (the CLI, tests) is
    written at once. Returns the card as the screens got it."""
    card = hub.card(call_id, seq, iv, time.time(), delivery=delivery)
    if isinstance(db, StoreWorker):
        db.write(db.store.add_intervention, call_id, seq, iv)
    else:
        db.add_intervention(call_id, seq, iv)
    return card
