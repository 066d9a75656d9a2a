"""Pure pieces of the lead flow's dialler (the call itself: test_flow_live.py)."""
import pytest

from intervene.leads.flow import VOICEMAIL


@pytest.mark.parametrize("text", [
    "Hi, you've reached Dana Whitfield. Please leave a message after the tone.",
    "The person you are calling is not available. Please record your message.",
    "Sorry, we can't take your call right now, leave us your name and number.",
    "Welcome to the voicemail of 212 555 0199.",
    "The mailbox is full.",
])
def test_answering_machines_are_recognised(text):
    assert VOICEMAIL.search(text)


@pytest.mark.parametrize("text", [
    "Yes, I am.", "Somewhere around fifteen thousand dollars.", "We'd like to start next month.",
    "Who is this?", "Can you call me back tomorrow?", "Reliable internet for our three offices.",
])
def test_a_person_answering_is_not_a_machine(text):
    assert not VOICEMAIL.search(text)
