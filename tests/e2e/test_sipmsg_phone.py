"""One card sent through ARI on the local Asterisk 22 to a registered pjsua2
phone as a SIP MESSAGE (scripts/asterisk.sh; needs root). Uses phones rep23
(never registered) and rep24 only."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from intervene.pbx.ari import Ari, AriError, AriSettings
from intervene.pbx.sipmsg import ELLIPSIS, card_text, send_message

CARD = {
    "category": "accuracy", "severity": "high",
    "detected": "Rep said Standard includes two years of support; the KB says three.",
    "say": "Standard actually includes three years of support.",
    "evidence": [{"kb_id": "standard.support", "text": "Standard package: 3 years of support included."}],
}

# ---- end to end: Asterisk 22 + a registered pjsua2 phone -----------------------------------

@pytest.fixture(scope="module")
def pbx():
    """The local Asterisk (started if needed; stopped afterwards only if this module started it)."""
    pytest.importorskip("pjsua2")
    if os.geteuid() != 0:
        pytest.skip("the local Asterisk needs root (chroot, mount)")
    from intervene_harness import localpbx
    started = not localpbx.running()
    env = localpbx.start()
    yield env
    if started:
        localpbx.stop()


def test_card_reaches_registered_phone(pbx):
    from intervene_harness.phone import PhoneProcess

    async def scenario():
        ari = Ari(AriSettings.from_env(pbx))
        phone = PhoneProcess("rep24")
        try:
            await phone.start(user="rep24", password=pbx["INTERVENE_SIP_PASSWORD"],
                              registrar=pbx.get("INTERVENE_SIP_SERVER", "127.0.0.1:5060"), register=True)
            await phone.wait_event("registered", 10)
            text = card_text({**CARD, "say": CARD["say"] + " Also: \u20ac0 setup fee \u2014 today only."},
                             limit=120)
            assert text.endswith(ELLIPSIS)
            since = len(phone.events)
            t0 = time.time()
            await send_message(ari, "PJSIP/rep24", text, "intervene")
            ev = await phone.wait_event("message", 5, since=since)
            assert ev["body"] == text                          # UTF-8 intact, one line
            assert ev["from"] == "<sip:intervene@127.0.0.1>"   # Asterisk added its own address
            assert ev["t"] - t0 < 1.0

            since = len(phone.events)
            await send_message(ari, "PJSIP/rep24", "second", '"Intervene" <sip:intervene@127.0.0.1>')
            ev = await phone.wait_event("message", 5, since=since)
            assert (ev["body"], ev["from"]) == ("second", '"Intervene" <sip:intervene@127.0.0.1>')

            # a known endpoint whose phone is not registered: nothing is sent
            with pytest.raises(AriError) as e:
                await send_message(ari, "PJSIP/rep23", "nobody home", "intervene")
            assert e.value.status == 404 and "no registered phone" in str(e.value)
            assert await phone.close() == 0
        finally:
            await phone.close()
            await ari.close()

    asyncio.run(scenario())
