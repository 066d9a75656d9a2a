"""The store: knowledge base, embedding cache, calls, users, settings - in
one SQLite file (the single box) or one PostgreSQL database (a cluster's
workers share it). Leads, the outbox, leases and screen pushes have modules
of their own beside this one, on the same Store.

One Store is one connection; the live service funnels its work through
one thread (worker.py). Every write is its own transaction unless a
caller opens one, so a crash or a bad input later never loses what was
recorded.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from intervene.errors import InterveneError
from intervene.store import schema
from intervene.store.sql import Sql, SqlError, add_columns, connect, is_url, update, upsert
from intervene.vocab import Intervention, Utterance

__all__ = ["KB_SECTIONS", "Store", "StoreError", "default_db_path", "text_hash"]

KB_SECTIONS = ("products", "facts", "competitors", "opportunities", "promotions",
               "compliance.forbidden", "compliance.required", "process")


def default_db_path(db: Optional[str] = None, state_directory: Optional[str] = None) -> Path:
    """--db or INTERVENE_DB (`db`), else the service's StateDirectory under systemd
    (`state_directory`, from STATE_DIRECTORY), else the user's data directory."""
    if db:
        return Path(db)
    if state_directory:
        return Path(state_directory.split(":")[0]) / "intervene.db"
    from platformdirs import user_data_dir
    return Path(user_data_dir("intervene")) / "intervene.db"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]




class StoreError(InterveneError):
    pass


class Store:
    """The database, SQLite or PostgreSQL (store/sql.py), with the schema
    brought up to date on open (store/schema.py).

    `path` is the SQLite file; for PostgreSQL it is the local file name the
    service's side files are named after (the first admin's link), since
    the database itself is elsewhere. `shared` says whether other workers
    may be using the same database (PostgreSQL)."""

    def __init__(self, target: str | Path, local: Optional[Path] = None, upgrade: bool = True) -> None:
        text = str(target)
        self.shared = is_url(text)
        if self.shared:
            self.path = local if local is not None else default_db_path()
            self.db: Sql = self._open(lambda: connect(text))
        else:
            self.path = Path(text[len("sqlite://"):] if text.startswith("sqlite:///") else text)
            try:
                if str(self.path) != ":memory:":
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                _private(self.path)
            except OSError as e:
                raise StoreError(f"{self.path}: cannot open ({e})")
            self.db = self._open(lambda: connect(str(self.path)))
        self.url = self.db.url
        if upgrade:
            try:
                schema.upgrade(self.db)
            except schema.SchemaError as e:
                self.db.close()
                raise StoreError(str(e)) from e

    @staticmethod
    def _open(make: Callable[[], Sql]) -> Sql:
        try:
            return make()
        except SqlError as e:
            raise StoreError(str(e)) from e
        except OSError as e:
            raise StoreError(f"cannot open the database ({e})") from e

    def schema_version(self) -> int:
        return schema.current(self.db)

    def transaction(self, serial: bool = True) -> Any:
        """One real transaction (nested: part of the one open). Serial ones
        never interleave with each other, in any process: a check and the
        write it guards cannot be split by another writer."""
        return self.db.transaction(serial)

    # ------------------------------------------------------------- embeddings
    def get_vectors(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        hashes = {text_hash(t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        keys = list(hashes)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for h, vec in self.db.execute(
                    f"select hash, vec from embeddings where model = ? and hash in ({marks})",
                    [model, *chunk]).fetchall():
                out[hashes[h]] = np.frombuffer(bytes(vec), dtype=np.float32)
        return out

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.transaction(serial=False):
            for t, v in vectors.items():
                upsert(self.db, "embeddings", {"model": model, "hash": text_hash(t), "text": t,
                                               "dim": int(v.shape[0]),
                                               "vec": np.asarray(v, dtype=np.float32).tobytes()}, ("model", "hash"))

    # --------------------------------------------------------------------- kb
    def kb_import(self, doc: dict[str, Any], source: str) -> dict[str, int]:
        """Merge one validated KB document: items upsert by (section, id).
        Returns counts of added / changed / unchanged items."""
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        now = time.time()
        with self.transaction():
            for key in ("company", "assistant"):
                if key in doc and doc[key] is not None:
                    upsert(self.db, "kb_meta", {"key": key, "value": json.dumps(doc[key])}, ("key",))
            for section in KB_SECTIONS:
                for pos, item in enumerate(_section(doc, section)):
                    data = json.dumps(item, sort_keys=True)
                    h = text_hash(data)
                    old = self.db.execute("select text_hash from kb_items where section=? and id=?",
                                          [section, item["id"]]).fetchone()
                    counts["added" if old is None else "unchanged" if old[0] == h else "changed"] += 1
                    if old is None or old[0] != h:
                        upsert(self.db, "kb_items", {"section": section, "id": item["id"], "position": pos,
                                                     "data": data, "text_hash": h, "source": source,
                                                     "updated": now}, ("section", "id"))
        return counts

    def kb_items(self) -> list[dict[str, Any]]:
        return [dict(r, data=json.loads(r["data"])) for r in
                self.db.query("select * from kb_items order by section, position, id")]

    def kb_remove(self, item_id: str, section: Optional[str] = None) -> int:
        if section:
            cur = self.db.execute("delete from kb_items where id=? and section=?", [item_id, section])
        else:
            cur = self.db.execute("delete from kb_items where id=?", [item_id])
        return cur.rowcount

    def kb_document(self) -> Optional[dict[str, Any]]:
        """The stored KB as a formats.md section-1 document (None if empty)."""
        meta = {r["key"]: json.loads(r["value"]) for r in self.db.query("select * from kb_meta")}
        if "company" not in meta:
            return None
        doc: dict[str, Any] = {"company": meta["company"]}
        if meta.get("assistant"):
            doc["assistant"] = meta["assistant"]
        for item in self.kb_items():
            section = item["section"]
            if section.startswith("compliance."):
                doc.setdefault("compliance", {}).setdefault(section.split(".")[1], []).append(item["data"])
            else:
                doc.setdefault(section, []).append(item["data"])
        return doc

    # ------------------------------------------------------------------ calls
    def start_call(self, call_id: str, **fields: Any) -> None:
        row = {"id": call_id, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "outcome": "unknown", **fields}
        add_columns(self.db, "calls", row)
        upsert(self.db, "calls", row, ("id",))

    def update_call(self, call_id: str, **fields: Any) -> None:
        add_columns(self.db, "calls", fields)
        update(self.db, "calls", {"id": call_id}, fields)

    def call(self, call_id: str) -> Optional[dict[str, Any]]:
        rows = self.db.query("select * from calls where id=?", [call_id])
        return _call_row(rows[0]) if rows else None

    def add_utterance(self, call_id: str, u: Utterance) -> None:
        upsert(self.db, "utterances", {"call_id": call_id, "idx": u.index, "speaker": u.speaker.value,
                                       "start": u.start, "end": u.end, "text": u.text}, ("call_id", "idx"))

    def add_intervention(self, call_id: str, seq: int, iv: Intervention) -> None:
        j = iv.to_json()
        upsert(self.db, "interventions", {"call_id": call_id, "seq": seq, **{k: j[k] for k in (
            "at", "utterance", "category", "severity", "mode", "trigger", "detected", "say")},
            "evidence": json.dumps(j["evidence"]), "feedback": None}, ("call_id", "seq"))

    def set_delivery(self, call_id: str, seq: int, status: str, delivered_at: Optional[float]) -> None:
        """What became of a live intervention: spoken / whispered / shown,
        expired (the moment passed before a gap), interrupted, failed."""
        update(self.db, "interventions", {"call_id": call_id, "seq": seq},
               {"delivery": status, "delivered_at": delivered_at})

    def set_feedback(self, call_id: str, seq: int, action: str, text: Optional[str], by: str) -> None:
        """The rep's verdict on a card: used / edited (with the words they used) / dismissed."""
        update(self.db, "interventions", {"call_id": call_id, "seq": seq},
               {"feedback": action, "feedback_text": text, "feedback_at": time.time(), "feedback_by": by})

    def set_outcome(self, call_id: str, outcome: str, note: Optional[str], by: str) -> None:
        update(self.db, "calls", {"id": call_id},
               {"outcome": outcome, "outcome_note": note, "outcome_by": by, "outcome_at": time.time()})

    def intervention(self, call_id: str, seq: int) -> Optional[dict[str, Any]]:
        rows = self.db.query("select * from interventions where call_id=? and seq=?", [call_id, seq])
        return rows[0] if rows else None

    # ------------------------------------------------------ users, settings
    def users(self) -> list[dict[str, Any]]:
        return self.db.query("select * from users order by role, login")

    def user(self, login: str) -> Optional[dict[str, Any]]:
        rows = self.db.query("select * from users where login=?", [login])
        return rows[0] if rows else None

    def put_user(self, login: str, **fields: Any) -> dict[str, Any]:
        """Create or update; `epoch` starts at 1 (bumped to end sessions and links), and a
        new login gets a random `nonce`, so tokens of an earlier login of that name stay dead."""
        old = self.user(login)
        row = {"login": login, "epoch": 1, "created": time.time(), "sip_message": 0, "pw": None,
               "nonce": secrets.token_urlsafe(9), **(old or {}), **fields}
        upsert(self.db, "users", row, ("login",))
        return self.user(login) or row

    def remove_user(self, login: str) -> bool:
        return self.db.execute("delete from users where login=?", [login]).rowcount > 0

    def bump_epoch(self, login: str) -> Optional[dict[str, Any]]:
        """End every session and link `login` holds; None if there is no such user."""
        if self.db.execute("update users set epoch = epoch + 1 where login=?", [login]).rowcount == 0:
            return None
        return self.user(login)

    def spend_token(self, token_id: str, expires: float, now: Optional[float] = None) -> bool:
        """Mark a token used up (a link followed, a session logged out) until it
        expires; False if it already was. Expired marks go as new ones come."""
        now = time.time() if now is None else now
        with self.transaction(serial=False):
            self.db.execute("delete from spent_tokens where expires < ?", [now])
            cur = self.db.execute("insert into spent_tokens (id, expires) values (?, ?) on conflict (id) do nothing",
                                  [token_id, expires])
        return cur.rowcount == 1

    def token_spent(self, token_id: str) -> bool:
        return bool(self.db.query("select 1 from spent_tokens where id=?", [token_id]))

    def delete_setting(self, key: str) -> None:
        self.db.execute("delete from settings where key=?", [key])

    def setting(self, key: str) -> Optional[str]:
        rows = self.db.query("select value from settings where key=?", [key])
        return rows[0]["value"] if rows else None

    def put_setting(self, key: str, value: str) -> None:
        upsert(self.db, "settings", {"key": key, "value": value}, ("key",))

    def utterances(self, call_id: str) -> list[dict[str, Any]]:
        return self.db.query("select * from utterances where call_id=? order by idx", [call_id])

    def finish_call(self, call_id: str, duration_s: float) -> None:
        update(self.db, "calls", {"id": call_id}, {"duration_s": duration_s})

    def calls(self, limit: Optional[int] = None) -> list[dict[str, Any]]:
        """Oldest first; with `limit`, the newest `limit` calls (still oldest first)."""
        order = self.db.insert_order
        if limit is None:
            return [_call_row(r) for r in self.db.query(f"select * from calls order by started, {order}")]
        rows = self.db.query(f"select * from calls order by started desc, {order} desc limit ?", [limit])
        return [_call_row(r) for r in rows[::-1]]

    def interventions(self, call_id: str) -> list[dict[str, Any]]:
        return self.db.query("select * from interventions where call_id=? order by seq", [call_id])

    def close(self) -> None:
        self.db.close()


def _call_row(row: dict[str, Any]) -> dict[str, Any]:
    """A calls row without PostgreSQL's insertion-order column (not a field of a call)."""
    row.pop("ord", None)
    return row


def _private(path: Path) -> None:
    """Calls, leads and users are personal data: the database is created
    readable by its owner only, and one found readable by others is closed
    up. SQLite gives the -wal and -shm files the database file's mode."""
    if str(path) == ":memory:":
        return
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if p.exists() and p.stat().st_mode & 0o077 and p.stat().st_uid == os.getuid():
                p.chmod(0o600)
        except OSError:
            pass                               # not ours (a shared install): leave it to its owner


def _section(doc: dict[str, Any], section: str) -> Iterable[dict[str, Any]]:
    if section.startswith("compliance."):
        return (doc.get("compliance") or {}).get(section.split(".")[1]) or []
    return doc.get(section) or []
