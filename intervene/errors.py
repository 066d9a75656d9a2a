"""The one error base class.

Everything a user or an operator can cause (a bad KB, a malformed transcript,
an unreachable Asterisk, a refused webhook) is an `InterveneError`, so the
command line reports any of them as one `error: ...` line with exit status 2
instead of a traceback, and the service can tell them from its own bugs."""
from __future__ import annotations


class InterveneError(Exception):
    """Bad input or an unavailable outside service, reported with a clear message."""
