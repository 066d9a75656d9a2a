"""How `intervene serve` writes its log: text for a person reading the
journal, or JSON Lines for a log shipper (Loki, Elasticsearch, Datadog) that
should not have to parse prose to find one call's lines.

Every line about a call carries the call id and the worker (intervene/logctx.py
puts them on the record), so `call == "..."` finds a call's story across
workers in a cluster. Nothing is added to what is logged: the messages are
the ones the product already writes, numbers and names masked there.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Optional

from intervene.errors import InterveneError
from intervene.logctx import LogContextFilter

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER = "intervene"


class LogFormatError(InterveneError):
    """An unknown log format in the environment or the config file."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, UTC), level, logger, message,
    call and worker when the line is about a call, exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                  .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("call", "worker"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The journal's line, with `[call=ID worker=W]` before the message when
    the line is about a call."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        call = getattr(record, "call", None)
        if call is None:
            return line
        worker = getattr(record, "worker", None)
        tag = f"[call={call}" + (f" worker={worker}]" if worker else "]")
        head = f"{record.name}: "
        at = line.find(head)
        return f"{line[:at + len(head)]}{tag} {line[at + len(head):]}" if at >= 0 else f"{tag} {line}"


def choose_format(option: Optional[str], configured: str = "") -> str:
    """The format to use: --log-format (or INTERVENE_LOG_FORMAT, which click
    reads for it) wins, then [serve] log_format, else text. A wrong value in
    the config file is a clear error, not a traceback."""
    if option:
        return option
    value = configured.strip().lower()
    if value and value not in FORMATS:
        raise LogFormatError(f"[serve] log_format: unknown log format {configured!r} (expected text or json)")
    return value or "text"


def setup_logging(fmt: str = "text", verbose: bool = False) -> logging.Handler:
    """Root logging for the service: one stderr handler (systemd's journal
    takes it) with the call context filter and the chosen formatter. Replaces
    the one an earlier call set up, so calling it twice does not double lines."""
    if fmt not in FORMATS:
        raise LogFormatError(f"unknown log format {fmt!r} (expected text or json)")
    handler = logging.StreamHandler()
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    return handler
