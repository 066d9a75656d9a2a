"""The two databases the store runs on, behind one narrow interface.

SQLite is the embedded default (one file, one box). PostgreSQL is for a
cluster: several `intervene serve` workers sharing calls, users and leads.
The store's SQL is written once, in the common subset both understand
(`?` placeholders, `insert ... on conflict`, `returning`), and each class
here bridges the rest: placeholders, the types of a column, how a
transaction takes its lock, which errors are worth retrying.

Both connections run in autocommit: a statement outside `transaction()` is
its own commit, and `transaction()` is one real transaction. With
`serial=True` (the default) a transaction is also serialised against every
other serial one, in every process: SQLite by its write lock (BEGIN
IMMEDIATE), PostgreSQL by a transaction-scoped advisory lock. So a check and
the write it guards cannot be split by another writer on either database.
"""
from __future__ import annotations

import functools
import re
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Protocol, Sequence

try:                                    # PostgreSQL is optional: pip install 'intervene[postgres]'
    import psycopg
    from psycopg.rows import dict_row
except ImportError:                     # pragma: no cover - exercised where psycopg is absent
    psycopg = None  # type: ignore[assignment]

from intervene.errors import InterveneError

SERIAL_LOCK = 0x1E7E6E               # the advisory lock key of serial PostgreSQL transactions
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class SqlError(InterveneError):
    """The database cannot be opened or used as asked."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Sql(Protocol):
    """What the store needs of a database connection."""
    dialect: str            # "sqlite" | "postgresql"
    url: str                # where it is (a path for SQLite), without a password
    real: str               # the column type of a float
    blob: str               # the column type of bytes
    serial_pk: str          # an auto-numbered integer primary key
    insert_order: str       # an expression that orders a table's rows as they were inserted
    greatest: str           # the scalar max() of two values
    transient: tuple[type[BaseException], ...]   # errors worth retrying (locked, busy, connection lost)

    def bytes_contain(self, column: str) -> str: ...

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def transaction(self, serial: bool = True) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...

    def rollback(self) -> None: ...

    def set_lock_timeout(self, ms: int) -> None: ...

    def tables(self) -> set[str]: ...

    def columns(self, table: str) -> dict[str, str]: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------- SQLite
class SqliteSql:
    dialect = "sqlite"
    real = "real"
    blob = "blob"
    serial_pk = "integer primary key autoincrement"
    insert_order = "rowid"
    greatest = "max"
    transient: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: str) -> None:
        self.url = path
        try:
            self.conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")     # WAL: a commit no longer waits for the disk
        except sqlite3.DatabaseError as e:
            raise SqlError(f"{path}: not a usable SQLite database ({e})")

    def bytes_contain(self, column: str) -> str:
        """A condition: the blob `column` holds the bytes of one parameter."""
        return f"instr({_name(column)}, ?) > 0"

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(sql, _plain(args))

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, _plain(args))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    @contextmanager
    def transaction(self, serial: bool = True) -> Iterator[None]:
        """Inside a transaction already open, part of that one."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")      # SQLite has one writer at a time anyway: always serial
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def set_lock_timeout(self, ms: int) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(ms)}")

    def tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute("select name from sqlite_master where type = 'table'")}

    def columns(self, table: str) -> dict[str, str]:
        return {r[1]: (r[2] or "").lower() for r in self.conn.execute(f"pragma table_info({_name(table)})")}

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------- PostgreSQL
class PostgresSql:
    dialect = "postgresql"
    real = "double precision"
    blob = "bytea"
    serial_pk = "bigint generated by default as identity primary key"
    insert_order = "ord"         # PostgreSQL has no rowid: the tables that need an order have this column
    greatest = "greatest"

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        if psycopg is None:
            raise SqlError("[store] url is a PostgreSQL URL, but psycopg is not installed: "
                           "pip install 'intervene[postgres]'")
        self.url = _without_password(url)
        self._dsn = url
        self._timeout = connect_timeout_s
        self._lock_ms: Optional[int] = None
        self.transient: tuple[type[BaseException], ...] = (psycopg.OperationalError,)
        self.conn = self._connect()

    def _connect(self) -> Any:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as e:
            raise SqlError(f"{self.url}: cannot connect to PostgreSQL ({str(e).strip()})")
        if self._lock_ms is not None:
            conn.execute(f"set lock_timeout = {int(self._lock_ms)}")
        return conn

    def _live(self) -> Any:
        """The connection, opened again if it broke (a restarted server, a
        dropped network) and no transaction was open on it: the next
        statement simply goes to the new one."""
        if self.conn.closed:
            try:
                self.conn = self._connect()
            except SqlError as e:
                raise psycopg.OperationalError(str(e))      # transient: the worker retries it
        return self.conn

    def bytes_contain(self, column: str) -> str:
        return f"position(? in {_name(column)}) > 0"

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        conn = self._live()
        if not args:                    # no parameters: psycopg reads the text as it is (% included)
            return conn.execute(sql)    # type: ignore[no-any-return,unused-ignore]
        return conn.execute(_pyformat(sql), _plain(args))   # type: ignore[no-any-return,unused-ignore]

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = self._live()
        with conn.cursor(row_factory=dict_row) as cur:
            if args:
                cur.execute(_pyformat(sql), _plain(args))
            else:
                cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    @contextmanager
    def transaction(self, serial: bool = True) -> Iterator[None]:
        conn = self._live()
        if self.in_transaction:
            yield
            return
        with conn.transaction():
            if serial:
                conn.execute("select pg_advisory_xact_lock(%s)", [SERIAL_LOCK])
            yield

    @property
    def in_transaction(self) -> bool:
        if self.conn.closed:
            return False
        return bool(self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def rollback(self) -> None:
        if not self.conn.closed and self.in_transaction:
            self.conn.rollback()

    def set_lock_timeout(self, ms: int) -> None:
        self._lock_ms = int(ms)
        self._live().execute(f"set lock_timeout = {int(ms)}")

    def tables(self) -> set[str]:
        return {r[0] for r in self.execute(
            "select table_name from information_schema.tables where table_schema = current_schema()").fetchall()}

    def columns(self, table: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = current_schema() and table_name = ? order by ordinal_position",
            [table]).fetchall()}

    def close(self) -> None:
        self.conn.close()


def connect(target: str) -> Sql:
    """A PostgreSQL URL (postgresql:// or postgres://), else a SQLite file
    path (or sqlite:///path)."""
    if target.startswith(("postgresql://", "postgres://")):
        return PostgresSql(target)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite://"):]
    return SqliteSql(target)


def is_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


# ------------------------------------------------------------ shared writes
def upsert(db: Sql, table: str, row: dict[str, Any], pk: Sequence[str]) -> None:
    """Insert, or update the given columns of the row with that key."""
    cols = [_name(c) for c in row]
    keys = ", ".join(_name(k) for k in pk)
    rest = [c for c in cols if c not in pk]
    action = f"do update set {', '.join(f'{c} = excluded.{c}' for c in rest)}" if rest else "do nothing"
    db.execute(f"insert into {_name(table)} ({', '.join(cols)}) values ({', '.join('?' * len(cols))}) "
               f"on conflict ({keys}) {action}", list(row.values()))


def update(db: Sql, table: str, key: dict[str, Any], fields: dict[str, Any]) -> int:
    """Set `fields` on the row(s) matching `key`; how many changed."""
    if not fields:
        return 0
    sets = ", ".join(f"{_name(c)} = ?" for c in fields)
    where = " and ".join(f"{_name(c)} = ?" for c in key)
    return int(db.execute(f"update {_name(table)} set {sets} where {where}",
                          [*fields.values(), *key.values()]).rowcount)


def add_columns(db: Sql, table: str, row: dict[str, Any]) -> None:
    """Add a column for each key the table lacks, typed by its value (what
    sqlite-utils' alter=True did): the dialler and imports may record fields
    of their own. On PostgreSQL, whose columns keep their type, a column
    made for whole numbers is widened when a fraction comes (else 2.5 would
    be stored as 2), and any column to text when text comes."""
    have = db.columns(table)
    for k, v in row.items():
        _name(k)
        if v is None and k in have:
            continue
        typ = _type_of(db, v)
        if k not in have:
            exists = " if not exists" if db.dialect == "postgresql" else ""
            db.execute(f"alter table {_name(table)} add column{exists} {_name(k)} {typ}")
        elif db.dialect == "postgresql" and _wider(have[k], typ):
            db.execute(f"alter table {_name(table)} alter column {_name(k)} type {typ} "
                       f"using {_name(k)}::{typ}")


def _type_of(db: Sql, v: Any) -> str:
    return (db.real if isinstance(v, float) else "bigint" if isinstance(v, (int, bool))
            else db.blob if isinstance(v, (bytes, bytearray)) else "text")


def _wider(have: str, want: str) -> bool:
    """Whether a PostgreSQL column of type `have` must change to take a `want` value."""
    numeric = ("bigint", "integer", "smallint")
    if want == "double precision":
        return have in numeric
    if want == "text":
        return have in (*numeric, "double precision", "real")
    return False


def _name(name: str) -> str:
    """An identifier that is safe to put in SQL (only ever our own names and
    the dialler's field names, but those come from code that may grow)."""
    if not _NAME.fullmatch(name):
        raise SqlError(f"not a column or table name: {name!r}")
    return f'"{name}"' if name.lower() in _QUOTED else name


_QUOTED = {"end", "order", "user", "limit", "group", "offset", "window"}


def _plain(args: Sequence[Any]) -> list[Any]:
    """Parameters both drivers take the same way: bools as 0/1 (the columns
    are integers), numpy scalars as Python numbers."""
    out = []
    for a in args:
        if isinstance(a, bool):
            a = int(a)
        elif hasattr(a, "item") and not isinstance(a, (bytes, bytearray, memoryview, str)):
            a = a.item()
        out.append(a)
    return out


@functools.lru_cache(maxsize=2048)
def _pyformat(sql: str) -> str:
    """`?` -> `%s` outside string literals, and `%` -> `%%` (psycopg's format)."""
    out = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
