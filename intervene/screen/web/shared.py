"""What every part of the screens' HTTP side shares: one small state object
(so each topic's handlers need no back-reference to the app) and the one
shape an error answer has, so every client can read `{"error": ...}`."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

from intervene.accounts.auth import User
from intervene.screen.hub import Hub
from intervene.store.db import Store
from intervene.store.worker import StoreWorker

log = logging.getLogger("intervene.screen")

STATIC = Path(__file__).parent.parent / "static"        # package data: intervene.screen = static/*
LOGIN_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")

PracticeStart = Callable[[User, str, float], Awaitable[str]]


@dataclass(frozen=True)
class ScreenState:
    """The service's parts and the composition root's hooks, passed in once."""
    store: Store
    hub: Hub
    secret: bytes
    api_token: str
    public_url: Callable[[], str]
    effective: Callable[[User], dict[str, Any]]
    practice: Optional[PracticeStart]
    on_outcome: Callable[[str, str], None]        # the lead flow: the outcome goes back to Facebook
    db: StoreWorker                               # the store, off the event loop: handlers `await db.run(...)`


def error(cls: type[web.HTTPException], message: str,
          headers: Optional[dict[str, str]] = None) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json", headers=headers)


def parse_int(s: str, what: str) -> int:
    if not s.isdigit():
        raise error(web.HTTPBadRequest, f"{what} must be a number")
    return int(s)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body of a mutating request. Only JSON: a cross-site form post cannot send it without a preflight."""
    if request.content_type != "application/json":
        raise error(web.HTTPUnsupportedMediaType, "send JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(web.HTTPBadRequest, f"not valid JSON: {e}")
    if not isinstance(body, dict):
        raise error(web.HTTPBadRequest, "expected a JSON object")
    return body
