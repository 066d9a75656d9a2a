"""Simulated calls for tests, demos and benchmarks: TTS voices for the two
parties (voices.py) and a pjsua2 SIP softphone run as its own process
(softphone.py), driven from asyncio by phone.py."""
