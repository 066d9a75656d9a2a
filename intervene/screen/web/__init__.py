"""The screens' HTTP side: login, the pages, the JSON API and the live push.

    /login, /l/<signed link>     the only ways in (everything else needs a session)
    /            the rep's screen        /supervisor  live calls, read-only
    /admin       users and teams         /static/*    the pages' JS and CSS
    /api/...     JSON (session cookie, or the bearer API token: read-only)
    /api/events  Server-Sent Events: calls, briefings, transcript lines, cards

Mutating requests must be JSON with an `X-Intervene: 1` header: a browser
will not send that cross-site without a CORS preflight we never answer, so
another site cannot make a logged-in rep's browser click "used".

By topic: session.py (who asks, login, tokens), pages.py, calls.py,
users.py, events.py (the push), app.py (the route table), shared.py.
"""
from __future__ import annotations

from intervene.screen.web.app import ScreenApp, build_screen
from intervene.screen.web.session import service_secret
from intervene.screen.web.users import save_user, signed_link

__all__ = ["ScreenApp", "build_screen", "save_user", "service_secret", "signed_link"]
