"""The embedded database in the state dir (SQLite, WAL mode).

One file, `sessiond.db`, holds what must survive a restart. The schema is versioned by
`PRAGMA user_version`; `_MIGRATIONS[n]` moves a database from version n to n+1.

Both the daemon and short-lived CLI commands (`sessiond mute`, ...) open it; WAL lets
them do so at the same time. Every connection sets a busy timeout so a writer never
fails on a lock held for a few milliseconds by the other.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = _connect(path)
            self._migrate()
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
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- key/value settings -------------------------------------------------

    def get_json(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
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
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM notified WHERE session_id = ? AND transition_at = ? AND status = ?",
                (session_id, transition_at, status),
            ).fetchone()
        return row is not None

    # -- event log, sessions, offsets (see persist.py) ------------------------

    def load_events(self, limit: int) -> list[tuple[int, str, str | None, str | None, str | None, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, agent, session_id, to_status, data FROM events "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return list(reversed(rows))

    def load_sessions(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT id, data FROM sessions").fetchall())

    def load_offsets(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            rows = self._db.execute("SELECT path, inode, offset FROM files").fetchall()
        return {path: (inode, offset) for path, inode, offset in rows}

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(_MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer sessiond (schema {version}); "
                "upgrade sessiond or move the file aside"
            )
        for target, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self._lock:
                self._db.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {target}; COMMIT;")


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
