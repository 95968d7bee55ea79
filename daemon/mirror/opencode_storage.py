"""Reading OpenCode's storage, read-only: the SQLite database (1.2 and later) and the JSON
file tree before it. The only module that opens OpenCode's files.

The database is OpenCode's, in WAL mode, written while we read: sessiond opens it with a
`mode=ro` URI (it can never write, nor take a write lock), reads the three tables inside
one short read transaction (a consistent snapshot; WAL readers never block the writer),
closes it at once (an open reader would hold back OpenCode's checkpoints), and retries a
few times on SQLITE_BUSY (a checkpoint or recovery in progress).

Recent OpenCode appends every change to an `event` table as well: that log is followed by
rowid (a few rows per read); older databases are scanned by `time_updated`.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sessiond.protocol import JSONDict
from sessiond.sources.opencode.history import rows_from_events
from sessiond.sources.opencode.records import BadRow, Row, RowKind, good_id

DB_NAME = "opencode.db"
STORAGE = "storage"
BUSY_RETRIES = 4
BUSY_WAIT_S = 0.05
# Event log entries read at once (the rest on the next read).
MAX_EVENTS = 20_000
# The largest row or file taken (a part holding a whole file's text is cut off here).
MAX_ROW_BYTES = 4 * 1024 * 1024


class StorageError(Exception):
    """The database cannot be read now (locked past the retries, or not a database)."""


def connect_read_only(db: Path, timeout: float) -> sqlite3.Connection:
    """A connection that can never write to OpenCode's database nor take a write lock."""
    return sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=timeout, isolation_level=None)


class CommitWatch:
    """Tells whether OpenCode committed since the last look, cheaply enough to ask 20
    times a second, and without ever being in OpenCode's way.

    The files' stat cannot tell: once SQLite has checkpointed, it writes the WAL again
    from its start (the same size) and an mtime moves only with the kernel's clock tick,
    so two commits a few ms apart can look like one, and the second (a command starting)
    would be seen only at the next commit, maybe minutes later. SQLite's own counter can:
    `PRAGMA data_version` changes whenever another connection commits. It is read on a
    read-only connection kept open (it holds no transaction, so it never holds back a
    checkpoint), reopened when the file is replaced.

    While the database has no WAL file, no OpenCode has it open (the last one to close it
    removes the WAL): then nothing can change, and sessiond holds no connection at all, so
    an OpenCode starting (its first `PRAGMA journal_mode = WAL` runs before it sets a busy
    timeout) never meets a lock of ours. The moment the WAL goes counts as a change: the
    last commits before OpenCode closed are read then.
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self.wal = db.with_name(db.name + "-wal")
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None
        self._version: int | None = None
        self._open_by_opencode = False

    def changed(self) -> bool:
        if not self.wal.exists():
            just_closed, self._open_by_opencode = self._open_by_opencode, False
            self.close()
            return just_closed
        self._open_by_opencode = True
        try:
            inode = os.stat(self.db).st_ino
        except OSError:
            self.close()  # no database: nothing to read
            return False
        try:
            if self._conn is None or inode != self._inode:
                self.close()
                self._conn = connect_read_only(self.db, timeout=0)
                self._inode = inode
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            self.close()
            return True  # the read will say what is wrong (and warn once)
        if version == self._version:
            return False
        self._version = version
        return True

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._inode, self._version = None, None, None


@dataclass(slots=True)
class DatabaseRead:
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one sentence per row not used
    # The last row of OpenCode's `event` table read (None: the database has none).
    event_rowid: int | None = None
    # True when the rows came from scanning the tables by time (the slow path).
    scanned: bool = False
    # The newest message and part rows (rowids) when read: rows added with no event
    # logged mean this OpenCode does not keep the log (see `read_database`).
    row_mark: tuple[int, int] | None = None
    # The event log was found not kept: rows were added, no event was.
    log_not_kept: bool = False


def read_database(
    db: Path, since_ms: int, after_event: int | None = None, row_mark: tuple[int, int] | None = None
) -> DatabaseRead:
    """What OpenCode wrote since the last read.

    Recent OpenCode (its `event` table: every change it makes, appended) is read by the
    event log's rowid from `after_event` on: a few new rows, however big the database.
    Otherwise (older databases, or the first read, `after_event` None) the three tables
    are scanned for rows whose `time_updated` is at or after `since_ms`: a full scan, whose
    cost grows with the database (73 ms for 200,000 parts, bench/opencode.py).

    OpenCode writes each event and the row it changes in one transaction
    (packages/opencode/src/sync/index.ts), but only some builds keep the log (newer code
    writes it only with experimental workspaces on): when rows were added since
    `row_mark` and no event was, the log is not kept, `log_not_kept` is set and the tables
    are scanned instead.
    """
    for attempt in range(BUSY_RETRIES):
        try:
            return _read_database(db, since_ms, after_event, row_mark)
        except sqlite3.OperationalError as exc:
            if str(exc).startswith("no such table"):
                return DatabaseRead()  # OpenCode is creating the database: its tables come next
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or attempt == BUSY_RETRIES - 1:
                raise StorageError(f"cannot read {db}: {exc}") from exc
            time.sleep(BUSY_WAIT_S * (attempt + 1))
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot read {db}: {exc}") from exc
    raise AssertionError("unreachable")


def _read_database(
    db: Path, since_ms: int, after_event: int | None, row_mark: tuple[int, int] | None
) -> DatabaseRead:
    read = DatabaseRead()
    with closing(connect_read_only(db, BUSY_WAIT_S)) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN")  # one snapshot for every read below
        has_events = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event'").fetchone() is not None
        newest = conn.execute("SELECT max(rowid) FROM event").fetchone()[0] if has_events else None
        read.row_mark = (conn.execute("SELECT coalesce(max(rowid), 0) FROM message").fetchone()[0],
                         conn.execute("SELECT coalesce(max(rowid), 0) FROM part").fetchone()[0])
        follow = has_events and after_event is not None and newest is not None and newest >= after_event
        if follow and newest == after_event and row_mark is not None and read.row_mark != row_mark:
            read.log_not_kept, follow = True, False
        if follow:
            assert after_event is not None
            touched = _read_events(conn, after_event, since_ms, read)
        else:
            # No event log, a first read, or the log shrank below our place (sessions
            # deleted): scan by time, then follow the log from its end.
            touched = _scan(conn, since_ms, read)
            read.event_rowid = newest if has_events else None
            read.scanned = True
        known = {r.session_id for r in read.rows if r.kind == "session"}
        for chunk in _chunks(sorted(touched - known), 500):
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(f"SELECT * FROM session WHERE id IN ({marks})", chunk):
                _take(read, r, functools.partial(_session_row, r))
        conn.execute("COMMIT")
    return read


def session_ids(db: Path) -> set[str]:
    """Every session the database holds now (to forget the ones OpenCode deleted)."""
    try:
        with closing(connect_read_only(db, BUSY_WAIT_S)) as conn:
            return {str(row[0]) for row in conn.execute("SELECT id FROM session")}
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read {db}: {exc}") from exc


def _read_events(conn: sqlite3.Connection, after: int, since_ms: int, read: DatabaseRead) -> set[str]:
    """The rows the events after rowid `after` wrote; returns the sessions they touch."""
    found = conn.execute(
        "SELECT rowid, seq, type, data FROM event WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, MAX_EVENTS)
    ).fetchall()
    read.event_rowid = int(found[-1]["rowid"]) if found else after
    events = [(int(r["seq"]), str(r["type"]), r["data"] if isinstance(r["data"], str) else "") for r in found]
    for _seq, row in rows_from_events(events, start_ms=since_ms, problems=read.problems):
        read.rows.append(row)
    return {r.session_id for r in read.rows}


def _scan(conn: sqlite3.Connection, since_ms: int, read: DatabaseRead) -> set[str]:
    messages = conn.execute(
        "SELECT id, session_id, time_updated, data FROM message WHERE time_updated >= ?", (since_ms,)
    ).fetchall()
    parts = conn.execute(
        "SELECT id, message_id, session_id, time_updated, data FROM part WHERE time_updated >= ?", (since_ms,)
    ).fetchall()
    for r in conn.execute("SELECT * FROM session WHERE time_updated >= ?", (since_ms,)):
        _take(read, r, functools.partial(_session_row, r))
    for r in messages:
        _take(read, r, functools.partial(_data_row, "message", r, {"sessionID": r["session_id"]}))
    for r in parts:
        _take(read, r, functools.partial(
            _data_row, "part", r, {"sessionID": r["session_id"], "messageID": r["message_id"]}))
    return {str(r["session_id"]) for r in (*messages, *parts)}


def _take(read: DatabaseRead, raw: sqlite3.Row, make: Callable[[], Row]) -> None:
    """Add one row, or say which row could not be used and why."""
    try:
        read.rows.append(make())
    except (BadRow, ValueError, TypeError, KeyError, IndexError) as exc:
        read.problems.append(f"{str(exc) or type(exc).__name__} (id {str(raw['id'])[:40]!r})")


def _session_row(r: sqlite3.Row) -> Row:
    keys = r.keys()
    data: JSONDict = {
        "id": r["id"],
        "parentID": r["parent_id"] if "parent_id" in keys else None,
        "directory": r["directory"] if "directory" in keys else "",
        "title": r["title"] if "title" in keys else "",
        "version": r["version"] if "version" in keys else "",
        "time": {"created": r["time_created"], "updated": r["time_updated"],
                 "archived": r["time_archived"] if "time_archived" in keys else None},
    }
    return Row("session", _text_id(r["id"]), _text_id(r["id"]), _ms(r["time_updated"]), data)


def _data_row(kind: RowKind, r: sqlite3.Row, ids: JSONDict) -> Row:
    raw = r["data"]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str) or len(raw) > MAX_ROW_BYTES:
        raise BadRow(f"a {kind} row whose data is not JSON text of at most {MAX_ROW_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRow(f"a {kind} row whose data is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRow(f"a {kind} row whose data is not a JSON object")
    data = {**data, **ids, "id": r["id"]}
    return Row(kind, _text_id(r["id"]), _text_id(r["session_id"]), _ms(r["time_updated"]), data)


def _text_id(value: object) -> str:
    ident = good_id(value)
    if not ident:
        raise BadRow("a row without a usable id")
    return ident


def _ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRow("a row whose time_updated is not a number")
    return int(value)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the JSON file tree (OpenCode before 1.2) -----------------------------------------------


def tree_files_since(storage: Path, since_ns: int) -> list[Path]:
    """Every session, message and part file written at or after `since_ns` (mtime)."""
    found = []
    for kind in ("session", "message", "part"):
        top = storage / kind
        for directory in _subdirs(top):
            for entry in _files(directory):
                try:
                    if entry.stat(follow_symlinks=False).st_mtime_ns >= since_ns:
                        found.append(Path(entry.path))
                except OSError:
                    continue
    return found


def read_tree_files(storage: Path, paths: Iterable[Path]) -> tuple[list[Row], list[str]]:
    """The rows these files hold (files outside the three folders are ignored), with the
    session file of every session they touch."""
    rows: list[Row] = []
    problems: list[str] = []
    sessions: set[str] = set()
    for path in sorted(set(paths)):
        kind = _tree_kind(storage, path)
        if kind is None:
            continue
        try:
            row = _tree_row(kind, path)
        except FileNotFoundError:
            continue  # removed meanwhile (a deleted session)
        except (BadRow, OSError) as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        rows.append(row)
        sessions.add(row.session_id)
    for sid in sessions - {r.id for r in rows if r.kind == "session"}:
        for path in (storage / "session").glob(f"*/{sid}.json"):
            try:
                rows.append(_tree_row("session", path))
            except (BadRow, OSError) as exc:
                problems.append(f"{path.name}: {exc}")
    return rows, problems


def _tree_kind(storage: Path, path: Path) -> RowKind | None:
    try:
        parts = path.relative_to(storage).parts
    except ValueError:
        return None
    if len(parts) != 3 or not parts[2].endswith(".json") or parts[0] not in ("session", "message", "part"):
        return None
    return parts[0]  # type: ignore[return-value]


def _tree_row(kind: RowKind, path: Path) -> Row:
    st = path.lstat()
    if not path.is_file() or path.is_symlink() or st.st_size > MAX_ROW_BYTES:
        raise BadRow(f"not a regular file of at most {MAX_ROW_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise BadRow("not JSON (half written, or not OpenCode's)") from exc
    if not isinstance(data, dict):
        raise BadRow("not a JSON object")
    ident = _text_id(data.get("id"))
    session = ident if kind == "session" else _text_id(data.get("sessionID"))
    return Row(kind, ident, session, st.st_mtime_ns // 1_000_000, data)


def _subdirs(top: Path) -> list[Path]:
    try:
        with os.scandir(top) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _files(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return [e for e in entries if e.name.endswith(".json") and e.is_file(follow_symlinks=False)]
    except OSError:
        return []
