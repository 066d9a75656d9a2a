"""`intervene doctor` on this machine: the database (writable, private,
schema current), the knowledge base and the models, built the way the
service builds them (intervene/app.py) so a pass here means the service's
start would get past them."""
from __future__ import annotations

import os
import pwd
import stat
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from intervene.app import Runtime, transcriber
from intervene.config import Config
from intervene.doctor.verdict import FAIL, PASS, WARN, Check
from intervene.kb.loader import load_kb, load_kb_text
from intervene.listen.pipeline import asr_prompt
from intervene.store import schema
from intervene.store.db import Store
from intervene.store.sql import Sql, connect, is_url
from intervene.vocab import KnowledgeBase

SIDE_FILES = ("-wal", "-shm")                      # SQLite's, beside the file
PRIVATE_FILES = (".secret", ".first-admin-link")  # the service's, named after the file (write_private)


class _Rollback(Exception):
    """Ends the probe transaction: the test write must leave nothing behind."""


def probe_write(db: Sql) -> None:
    """Create a table and write a row in one transaction, then roll it back."""
    table = f"doctor_probe_{uuid.uuid4().hex[:10]}"
    try:
        with db.transaction(serial=False):
            db.execute(f"create table {table} (x text)")
            db.execute(f"insert into {table} (x) values (?)", ["ok"])
            raise _Rollback
    except _Rollback:
        pass


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def loose_files(path: Path) -> list[str]:
    """The database's files that others may read (the service makes them 0600)."""
    out = []
    for p in [path, *(Path(f"{path}{s}") for s in SIDE_FILES),
              *(path.with_name(f"{path.stem}{s}") for s in PRIVATE_FILES)]:
        try:
            mode = p.stat().st_mode
        except OSError:
            continue
        if mode & 0o077:
            out.append(f"{p} (mode {stat.S_IMODE(mode):04o})")
    return out


def database_check(target: str) -> Check:
    """SQLite: the file and its directory private and writable; PostgreSQL:
    connects. Both: schema current, and a write that is rolled back."""
    name = "database"
    label = target
    if is_url(target):
        label = _no_password(target)
    else:
        path = Path(target[len("sqlite://"):] if target.startswith("sqlite:///") else target)
        if not path.exists():
            parent = next((p for p in path.parents if p.exists()), Path("/"))
            if os.access(parent, os.W_OK | os.X_OK):
                return Check(name, PASS, f"{path} does not exist yet: the service creates it (mode 0600); "
                                         f"{parent} is writable")
            return Check(name, FAIL, f"cannot create {path}: {parent} is not writable by {_owner(os.getuid())}",
                         "run the service as the directory's owner, or let systemd make it (StateDirectory=intervene)")
        loose = loose_files(path)
        if loose:
            return Check(name, FAIL, f"readable by others (calls, leads and users are personal data): "
                                     f"{', '.join(loose)}",
                         f"chmod 600 {' '.join(x.split(' (')[0] for x in loose)}")
        dmode = path.parent.stat().st_mode
        if dmode & 0o002:
            return Check(name, FAIL, f"{path.parent} is writable by everyone (mode {stat.S_IMODE(dmode):04o})",
                         f"chmod o-w {path.parent} (systemd's StateDirectory= makes it 0700)")
        st = path.stat()
        label = f"{path} (owner {_owner(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):04o})"
    t0 = time.perf_counter()
    try:
        db = connect(target)
    except Exception as e:                       # noqa: BLE001 (any driver error is the verdict)
        return Check(name, FAIL, f"cannot open {label}: {e}",
                     "check --db / INTERVENE_DB / [store] url, the server and its credentials")
    try:
        have = schema.current(db)
        probe_write(db)
    except Exception as e:                       # noqa: BLE001
        return Check(name, FAIL, f"{label}: cannot write ({e.__class__.__name__}: {e})",
                     "give the service's user write access to the database (SQLite: the file and its directory; "
                     "PostgreSQL: CREATE and INSERT on its schema)")
    finally:
        db.close()
    took = time.perf_counter() - t0
    if have > schema.LATEST:
        return Check(name, FAIL, f"{label}: schema version {have} is newer than this intervene ({schema.LATEST})",
                     "upgrade intervene on this machine")
    if have < schema.LATEST:
        pending = f"schema version {have}, this intervene {schema.LATEST}"
        if is_url(target):
            return Check(name, WARN, f"{label}: writable; {pending}",
                         "run `intervene db upgrade` once before the workers start", took)
        return Check(name, PASS, f"{label}: writable; {pending} (the service upgrades it as it opens it)",
                     seconds=took)
    return Check(name, PASS, f"{label}: writable, schema version {have} (current)", seconds=took)


def _no_password(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.split(':')[0]}@{tail}"


def open_store(rt: Runtime) -> Optional[Store]:
    """The store as it is (no upgrade), for the KB and the reps' phones; None if it cannot be opened."""
    target = rt.db_target
    if not is_url(target) and not Path(target.removeprefix("sqlite://")).exists():
        return None                                # not made yet: the service makes it, not the doctor
    try:
        return Store(target, local=rt.db_path, upgrade=False)
    except Exception:                              # noqa: BLE001 (the database line said why)
        return None


def reps_phones(store: Optional[Store]) -> dict[str, str]:
    """login -> phone ("PJSIP/rep7") of every rep (and admin) with one, as the controller matches them."""
    if store is None:
        return {}
    try:
        rows = store.users()
    except Exception:                              # noqa: BLE001 (an older schema: no users yet)
        return {}
    return {r["login"]: r["endpoint"] for r in rows if r.get("role") in ("rep", "admin") and r.get("endpoint")}


def kb_check(kb_path: Optional[str], store: Optional[Store], db_label: str) -> tuple[Check, Optional[KnowledgeBase]]:
    name = "knowledge base"
    t0 = time.perf_counter()
    try:
        if kb_path:
            kb = load_kb(kb_path)
        else:
            if store is None:
                return Check(name, FAIL, f"no KB: the database {db_label} cannot be read or does not exist yet, "
                                         f"and no [serve] kb", "run `intervene kb import FILE` (or set [serve] kb "
                                                               "in the config)"), None
            doc = store.kb_document()
            if doc is None:
                return Check(name, FAIL, f"no KB imported into {db_label} and no [serve] kb",
                             "run `intervene kb import FILE` (or set [serve] kb in the config)"), None
            kb = load_kb_text(yaml.safe_dump(doc, sort_keys=False), source=f"{db_label} (imported KB)")
    except Exception as e:                         # noqa: BLE001 (a bad KB is the verdict)
        return Check(name, FAIL, f"{kb_path or 'the imported KB'}: {e}",
                     "fix the KB where the message says, then `intervene kb import FILE` again"), None
    took = time.perf_counter() - t0
    return Check(name, PASS, f"{kb.company}: {len(kb.facts)} facts, {len(kb.products)} products "
                             f"({kb.source or kb_path})", seconds=took), kb


def _timed(name: str, load: Callable[[], Any], what: str, fix: str) -> Check:
    t0 = time.perf_counter()
    try:
        load()
    except Exception as e:                         # noqa: BLE001 (model loads fail in many ways)
        return Check(name, FAIL, f"cannot load {what}: {e.__class__.__name__}: {e}", fix)
    return Check(name, PASS, f"{what} loaded", seconds=time.perf_counter() - t0)


def model_checks(rt: Runtime, cfg: Config, kb: Optional[KnowledgeBase]) -> list[Check]:
    """Whisper, the sentence encoder and the judge, each loaded and warmed as the service does."""
    asr = cfg.asr
    whisper = _timed("speech model", lambda: transcriber(cfg, None, asr_prompt(kb) if kb else ""),
                     f"Whisper {asr.model or '(default tiny.en)'}" + (" on Ray" if cfg.models.remote else ""),
                     "check [asr] model / INTERVENE_ASR_MODEL (a CTranslate2 model directory or size name); "
                     "with [models] backend = \"ray\": `intervene models status`")
    encoder = _timed("sentence model", lambda: rt.embedder.warm(),
                     f"sentence encoder {rt.env.embed_model or '(default MiniLM)'}",
                     "check INTERVENE_EMBED_MODEL / INTERVENE_EMBED_BACKEND and CACHE_DIRECTORY (writable)")
    if not rt.env.judge:
        judge = Check("judge", PASS, "off (INTERVENE_JUDGE=off): the claim checker's rules decide alone")
    else:
        j = rt.judge
        if j is None:
            judge = Check("judge", WARN, "the judge's weights are missing: the claim checker's rules decide alone",
                          "reinstall intervene, or point INTERVENE_JUDGE_WEIGHTS at the weights "
                          "(or set INTERVENE_JUDGE=off to say so)")
        else:
            judge = _timed("judge", j.warm, f"the claim judge ({j.weights.name})",
                           "reinstall intervene or fix INTERVENE_JUDGE_WEIGHTS")
    return [whisper, encoder, judge]
