"""The listening half: call audio in, utterances out (wav, vad, asr, cues)."""
