"""The one SQLite store: knowledge base, embedding cache, calls.

There is exactly one writer per process (this object); the live service
funnels writes through it from a single task. Every write is its own
transaction, so a crash or a bad input later never loses what was recorded.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np
import sqlite_utils

from intervene.errors import InterveneError
from intervene.vocab import Intervention, Utterance

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


# the settings key that says the calls of before have their owner's login (Store._calls_by_login)
CALLS_BY_LOGIN = "migrated.calls-by-login"


class StoreError(InterveneError):
    pass


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _private(self.path)
            conn = sqlite3.connect(str(self.path), timeout=10, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")     # WAL: a commit no longer waits for the disk
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database ({e})")
        except OSError as e:
            raise StoreError(f"{self.path}: cannot open ({e})")
        self.db = sqlite_utils.Database(conn)
        self._schema()

    def _schema(self) -> None:
        db = self.db
        if "kb_meta" not in db.table_names():
            db.table("kb_meta").create({"key": str, "value": str}, pk="key")
        if "kb_items" not in db.table_names():
            db.table("kb_items").create({"section": str, "id": str, "position": int, "data": str,
                                         "text_hash": str, "source": str, "updated": float},
                                        pk=("section", "id"))
        if "embeddings" not in db.table_names():
            db.table("embeddings").create({"model": str, "hash": str, "text": str, "dim": int, "vec": bytes},
                                          pk=("model", "hash"))
        if "calls" not in db.table_names():
            db.table("calls").create({"id": str, "started": str, "source": str, "rep": str, "team": str,
                                      "profile": str, "mode": str, "kb": str, "duration_s": float,
                                      "outcome": str, "value": float, "lead": str}, pk="id")
        if "utterances" not in db.table_names():
            db.table("utterances").create({"call_id": str, "idx": int, "speaker": str, "start": float,
                                           "end": float, "text": str}, pk=("call_id", "idx"),
                                          foreign_keys=[("call_id", "calls", "id")])
        if "interventions" not in db.table_names():
            db.table("interventions").create({"call_id": str, "seq": int, "at": float, "utterance": int,
                                              "category": str, "severity": str, "mode": str, "trigger": str,
                                              "detected": str, "say": str, "evidence": str, "feedback": str},
                                             pk=("call_id", "seq"), foreign_keys=[("call_id", "calls", "id")])
        for col, typ in (("feedback_text", str), ("feedback_at", float), ("feedback_by", str),
                         ("delivery", str), ("delivered_at", float)):
            if col not in db.table("interventions").columns_dict:
                db.table("interventions").add_column(col, typ)
        for col, typ in (("outcome_note", str), ("outcome_by", str), ("outcome_at", float)):
            if col not in db.table("calls").columns_dict:
                db.table("calls").add_column(col, typ)
        if "users" not in db.table_names():
            db.table("users").create({"login": str, "name": str, "role": str, "team": str, "endpoint": str,
                                      "sip_message": int, "pw": str, "epoch": int, "created": float}, pk="login")
        if "settings" not in db.table_names():
            db.table("settings").create({"key": str, "value": str}, pk="key")
        if "nonce" not in db.table("users").columns_dict:
            db.table("users").add_column("nonce", str)    # logins from before stay "" (see accounts/auth.py)
        if "spent_tokens" not in db.table_names():        # links used, sessions logged out: until they expire
            db.table("spent_tokens").create({"id": str, "expires": float}, pk="id")
            db.table("spent_tokens").create_index(["expires"])
        self._calls_by_login()

    def _calls_by_login(self) -> None:
        """Once per database: calls stored before ownership went by login
        carry the phone's name in `rep` (`rep7` of `PJSIP/rep7`). Each goes to
        the one rep or admin who holds that phone now; a name that is a login
        already, or a phone held by nobody or by several, is left as it was.
        Once only: later, a phone's holder is not who took its earlier calls."""
        if self.setting(CALLS_BY_LOGIN):
            return
        with self.transaction():
            if self.setting(CALLS_BY_LOGIN):          # another process did it meanwhile
                return
            if "rep_endpoint" in self.db.table("calls").columns_dict:
                holders = "from users u where u.endpoint = calls.rep_endpoint and u.role in ('rep', 'admin')"
                self.db.execute(f"update calls set rep = (select u.login {holders}) "
                                f"where coalesce(rep_endpoint, '') != '' "
                                f"and (rep is null or rep not in (select login from users)) "
                                f"and (select count(*) {holders}) = 1")
            self.db.execute("insert into settings (key, value) values (?, ?)", [CALLS_BY_LOGIN, "1"])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One real transaction. (`with conn:` alone is not: sqlite-utils'
        execute commits each write that opened a transaction by itself, so a
        batch would be one commit per row.) BEGIN IMMEDIATE takes the write
        lock first, so a check and the write it guards cannot be split by
        another writer. Inside a transaction already open, it is part of that one."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
                out[hashes[h]] = np.frombuffer(vec, dtype=np.float32)
        return out

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        rows = [{"model": model, "hash": text_hash(t), "text": t, "dim": int(v.shape[0]),
                 "vec": np.asarray(v, dtype=np.float32).tobytes()} for t, v in vectors.items()]
        with self.db.conn:
            self.db.table("embeddings").upsert_all(rows, pk=("model", "hash"))

    # --------------------------------------------------------------------- kb
    def kb_import(self, doc: dict[str, Any], source: str) -> dict[str, int]:
        """Merge one validated KB document: items upsert by (section, id).
        Returns counts of added / changed / unchanged items."""
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        now = time.time()
        with self.db.conn:
            for key in ("company", "assistant"):
                if key in doc and doc[key] is not None:
                    self.db.table("kb_meta").upsert({"key": key, "value": json.dumps(doc[key])}, pk="key")
            for section in KB_SECTIONS:
                for pos, item in enumerate(_section(doc, section)):
                    data = json.dumps(item, sort_keys=True)
                    h = text_hash(data)
                    old = self.db.execute("select text_hash from kb_items where section=? and id=?",
                                          [section, item["id"]]).fetchone()
                    counts["added" if old is None else "unchanged" if old[0] == h else "changed"] += 1
                    if old is None or old[0] != h:
                        self.db.table("kb_items").upsert({"section": section, "id": item["id"], "position": pos,
                                                          "data": data, "text_hash": h, "source": source,
                                                          "updated": now}, pk=("section", "id"))
        return counts

    def kb_items(self) -> list[dict[str, Any]]:
        return [dict(r, data=json.loads(r["data"])) for r in
                self.db.query("select * from kb_items order by section, position, id")]

    def kb_remove(self, item_id: str, section: Optional[str] = None) -> int:
        with self.db.conn:
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
        with self.db.conn:
            self.db.table("calls").upsert(row, pk="id", alter=True)

    def update_call(self, call_id: str, **fields: Any) -> None:
        with self.db.conn:
            self.db.table("calls").update(call_id, fields, alter=True)

    def call(self, call_id: str) -> Optional[dict[str, Any]]:
        rows = list(self.db.query("select * from calls where id=?", [call_id]))
        return rows[0] if rows else None

    def add_utterance(self, call_id: str, u: Utterance) -> None:
        with self.db.conn:
            self.db.table("utterances").upsert({"call_id": call_id, "idx": u.index, "speaker": u.speaker.value,
                                                "start": u.start, "end": u.end, "text": u.text},
                                               pk=("call_id", "idx"))

    def add_intervention(self, call_id: str, seq: int, iv: Intervention) -> None:
        j = iv.to_json()
        with self.db.conn:
            self.db.table("interventions").upsert({"call_id": call_id, "seq": seq, **{k: j[k] for k in (
                "at", "utterance", "category", "severity", "mode", "trigger", "detected", "say")},
                "evidence": json.dumps(j["evidence"]), "feedback": None}, pk=("call_id", "seq"))

    def set_delivery(self, call_id: str, seq: int, status: str, delivered_at: Optional[float]) -> None:
        """What became of a live intervention: spoken / whispered / shown,
        expired (the moment passed before a gap), interrupted, failed."""
        with self.db.conn:
            self.db.table("interventions").update((call_id, seq), {"delivery": status, "delivered_at": delivered_at},
                                                  alter=True)

    def set_feedback(self, call_id: str, seq: int, action: str, text: Optional[str], by: str) -> None:
        """The rep's verdict on a card: used / edited (with the words they used) / dismissed."""
        with self.db.conn:
            self.db.table("interventions").update((call_id, seq), {"feedback": action, "feedback_text": text,
                                                                   "feedback_at": time.time(), "feedback_by": by})

    def set_outcome(self, call_id: str, outcome: str, note: Optional[str], by: str) -> None:
        with self.db.conn:
            self.db.table("calls").update(call_id, {"outcome": outcome, "outcome_note": note, "outcome_by": by,
                                                    "outcome_at": time.time()})

    def intervention(self, call_id: str, seq: int) -> Optional[dict[str, Any]]:
        rows = list(self.db.query("select * from interventions where call_id=? and seq=?", [call_id, seq]))
        return rows[0] if rows else None

    # ------------------------------------------------------ users, settings
    def users(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from users order by role, login"))

    def user(self, login: str) -> Optional[dict[str, Any]]:
        rows = list(self.db.query("select * from users where login=?", [login]))
        return rows[0] if rows else None

    def put_user(self, login: str, **fields: Any) -> dict[str, Any]:
        """Create or update; `epoch` starts at 1 (bumped to end sessions and links), and a
        new login gets a random `nonce`, so tokens of an earlier login of that name stay dead."""
        old = self.user(login)
        row = {"login": login, "epoch": 1, "created": time.time(), "sip_message": 0, "pw": None,
               "nonce": secrets.token_urlsafe(9), **(old or {}), **fields}
        with self.db.conn:
            self.db.table("users").upsert(row, pk="login")
        return self.user(login) or row

    def remove_user(self, login: str) -> bool:
        with self.db.conn:
            return self.db.execute("delete from users where login=?", [login]).rowcount > 0

    def bump_epoch(self, login: str) -> Optional[dict[str, Any]]:
        """End every session and link `login` holds; None if there is no such user."""
        with self.db.conn:
            if self.db.execute("update users set epoch = epoch + 1 where login=?", [login]).rowcount == 0:
                return None
        return self.user(login)

    def spend_token(self, token_id: str, expires: float, now: Optional[float] = None) -> bool:
        """Mark a token used up (a link followed, a session logged out) until it
        expires; False if it already was. Expired marks go as new ones come."""
        now = time.time() if now is None else now
        with self.db.conn:
            self.db.execute("delete from spent_tokens where expires < ?", [now])
            cur = self.db.execute("insert or ignore into spent_tokens (id, expires) values (?, ?)",
                                  [token_id, expires])
        return cur.rowcount == 1

    def token_spent(self, token_id: str) -> bool:
        return bool(list(self.db.query("select 1 from spent_tokens where id=?", [token_id])))

    def delete_setting(self, key: str) -> None:
        with self.db.conn:
            self.db.execute("delete from settings where key=?", [key])

    def setting(self, key: str) -> Optional[str]:
        rows = list(self.db.query("select value from settings where key=?", [key]))
        return rows[0]["value"] if rows else None

    def put_setting(self, key: str, value: str) -> None:
        with self.db.conn:
            self.db.table("settings").upsert({"key": key, "value": value}, pk="key")

    def utterances(self, call_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("select * from utterances where call_id=? order by idx", [call_id]))

    def finish_call(self, call_id: str, duration_s: float) -> None:
        with self.db.conn:
            self.db.table("calls").update(call_id, {"duration_s": duration_s})

    def calls(self, limit: Optional[int] = None) -> list[dict[str, Any]]:
        """Oldest first; with `limit`, the newest `limit` calls (still oldest first)."""
        if limit is None:
            return list(self.db.query("select * from calls order by started"))
        rows = list(self.db.query("select * from calls order by started desc, rowid desc limit ?", [limit]))
        return rows[::-1]

    def interventions(self, call_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("select * from interventions where call_id=? order by seq", [call_id]))

    def close(self) -> None:
        self.db.conn.close()


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
