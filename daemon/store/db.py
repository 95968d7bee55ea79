"""The embedded database in the state dir (SQLite, WAL mode).

One file, `sessiond.db`, holds what must survive a restart. The schema is versioned by
`PRAGMA user_version`; `_MIGRATIONS[n]` moves a database from version n to n+1.

Both the daemon and short-lived CLI commands (`sessiond mute`, ...) open it; WAL lets
them do so at the same time. Every connection sets a busy timeout so a writer never
fails on a lock held for a few milliseconds by the other.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

DB_NAME = "sessiond.db"

_MIGRATIONS: list[str] = [
    # 0 -> 1: settings that users change at run time, and the toast ledger.
    """
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE notified (
        session_id TEXT NOT NULL,
        transition_at TEXT NOT NULL,
        status TEXT NOT NULL,
        shown_at REAL NOT NULL,
        PRIMARY KEY (session_id, transition_at, status)
    );
    """,
    # 1 -> 2: what lets a restart resume without loss or repetition: the event log (for
    # Last-Event-ID across restarts), the sessions as last published, per-file offsets.
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        agent TEXT,
        session_id TEXT,
        to_status TEXT,
        data TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE files (
        path TEXT PRIMARY KEY,
        inode INTEGER NOT NULL,
        offset INTEGER NOT NULL
    );
    """,
]


class StoreError(Exception):
    """The database cannot be opened or is corrupt."""


class StoreRebuilt(StoreError):
    """The database was found corrupt while in use: moved aside and started afresh.

    What the failed call meant to write is not in the new database: write it again."""


def no_space(exc: BaseException | None) -> bool:
    """Is this (or what caused it) a full disk?"""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            return True  # "database or disk is full"
        exc = exc.__cause__ or exc.__context__
    return False


def is_corruption(exc: BaseException) -> bool:
    """A corrupt file (not a full disk, a lock or a bug): "database disk image is
    malformed", "file is not a database"."""
    return type(exc) is sqlite3.DatabaseError


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.rebuilds = 0
        try:
            self._db = _connect(path)
            self._migrate()
            # Random bytes over one inner page pass the header check and fail later, on
            # first use: look at every page now (about 10 ms for 10,000 events).
            found = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if found != "ok":
                raise StoreError(f"{path} failed its integrity check: {found}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: {exc}") from exc

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Store:
        return cls(state_dir / DB_NAME)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A corrupt file found on the way is moved aside and the
        database started afresh (StoreRebuilt): the daemon keeps serving."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if is_corruption(exc):
                    self._rebuild(exc)
                    raise StoreRebuilt(f"{self.path} was corrupt; moved aside and started afresh") from exc
                raise

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read; on a corrupt file, the database is rebuilt and the read sees it empty."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._rebuild(exc)
                raise StoreRebuilt(f"{self.path} was corrupt; moved aside and started afresh") from exc

    def _rebuild(self, exc: BaseException) -> None:
        """Move the corrupt file aside (with its -wal/-shm) and start an empty database.

        Called with the lock held. Everything in it can be rebuilt from the transcripts;
        event ids stay increasing (see store/persistence.py, the id floor file)."""
        self.rebuilds += 1
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        aside = move_aside(self.path)
        log.warning("database corrupt; moved aside and rebuilding from the transcripts",
                    path=str(self.path), moved_to=str(aside), error=str(exc))
        self._db = _connect(self.path)
        self._migrate_locked()

    # -- key/value settings -------------------------------------------------

    def get_json(self, key: str, default: Any = None) -> Any:
        try:
            with self._reading() as db:
                row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        except StoreRebuilt:
            return default
        return default if row is None else json.loads(row[0])

    def set_json(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def update_json(self, key: str, change: Callable[[Any], Any], default: Any = None) -> Any:
        """Read, change and write one value in a single transaction; returns the new value.

        The daemon (a toast's "Mute project" button) and the CLI (`sessiond mute`) may
        change the same key at the same moment; BEGIN IMMEDIATE makes the second wait
        for the first instead of overwriting it with a stale copy.
        """
        with self.transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            value = change(default if row is None else json.loads(row[0]))
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
        return value

    # -- toast ledger -------------------------------------------------------

    def mark_notified(self, session_id: str, transition_at: str, status: str) -> bool:
        """Record that a toast was shown; False if it had been shown already."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO notified VALUES (?, ?, ?, ?)",
                (session_id, transition_at, status, time.time()),
            )
            # Keep the ledger bounded: a week is far beyond any replay window.
            db.execute("DELETE FROM notified WHERE shown_at < ?", (time.time() - 7 * 86400,))
            return cur.rowcount == 1

    def unmark_notified(self, session_id: str, transition_at: str, status: str) -> None:
        """Forget a claim made by `mark_notified` whose toast could not be sent."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM notified WHERE session_id = ? AND transition_at = ? AND status = ?",
                (session_id, transition_at, status),
            )

    def was_notified(self, session_id: str, transition_at: str, status: str) -> bool:
        with self._reading() as db:
            row = db.execute(
                "SELECT 1 FROM notified WHERE session_id = ? AND transition_at = ? AND status = ?",
                (session_id, transition_at, status),
            ).fetchone()
        return row is not None

    # -- event log, sessions, offsets (see persist.py) ------------------------

    def load_events(self, limit: int) -> list[tuple[int, str, str | None, str | None, str | None, str]]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT id, kind, agent, session_id, to_status, data FROM events "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return list(reversed(rows))

    def load_sessions(self) -> dict[str, str]:
        with self._reading() as db:
            return dict(db.execute("SELECT id, data FROM sessions").fetchall())

    def load_offsets(self) -> dict[str, tuple[int, int]]:
        with self._reading() as db:
            rows = db.execute("SELECT path, inode, offset FROM files").fetchall()
        return {path: (inode, offset) for path, inode, offset in rows}

    def _migrate(self) -> None:
        with self._lock:
            self._migrate_locked()

    def _migrate_locked(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(_MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer sessiond (schema {version}); "
                "upgrade sessiond or move the file aside"
            )
        for target, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {target}; COMMIT;")


def move_aside(path: Path) -> Path:
    """Rename a database file (and its -wal, -shm) to `<name>.corrupt-<time>`."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            extra.replace(Path(f"{aside}{suffix}"))
    return aside


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 before SQLite opens it (an empty file is an empty database); SQLite
    # gives the -wal and -shm files the database's own mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    # Fail now, not on the first write, when the file is not a database at all.
    db.execute("PRAGMA schema_version").fetchone()
    return db
