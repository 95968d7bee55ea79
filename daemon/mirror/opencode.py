"""The OpenCode mirror: OpenCode's storage, followed read-only, as one append-only log per
session under the state dir, which the engine then tails like any transcript.

Why a mirror: the engine's whole machinery (offsets that survive restarts, catch-up
without repeats, `inspect`, replays) works on append-only logs, and OpenCode keeps none
(it updates rows in place). `sync_database` / `sync_tree` read what changed since the
cursor, turn each row into a record (`records.to_record`) and append the records whose
fingerprint differs from the last one written for that row; the cursor (the newest write
time seen) is saved after the records, so a crash in between re-reads rows whose records
are then found to be written already: nothing repeated, nothing lost.

Following: the database is asked every `POLL_S` whether OpenCode committed (SQLite's
`data_version`, see `CommitWatch`) and read only when it did; the JSON tree of OpenCode
before 1.2 is watched with watchfiles.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog
from sessiond.mirror.opencode_storage import (
    DB_NAME,
    STORAGE,
    CommitWatch,
    StorageError,
    read_database,
    read_tree_files,
    session_ids,
    tree_files_since,
)
from sessiond.protocol import ComponentHealth, JSONDict
from sessiond.sources.opencode.records import (
    BadRow,
    Row,
    fingerprint,
    good_id,
    in_write_order,
    record_key,
    to_record,
)

log = structlog.get_logger(__name__)

CURSOR_NAME = ".cursor.json"
# How often the database is asked whether OpenCode committed (`CommitWatch`): a change
# reaches SSE about half of this later on average (bench/opencode.py).
POLL_S = 0.05
# Rows are re-read from this long before the newest write seen: a transaction that
# commits after a later-stamped one is still found (the fingerprints drop repeats).
SLACK_MS = 5_000
# The first start reads sessions written in the last week; older ones are over.
FIRST_WINDOW_MS = 7 * 24 * 3600 * 1000
# How often, at most, the logs of sessions deleted in OpenCode are looked for (within this
# long of a commit: deleting one is a commit).
FORGET_EVERY_S = 5.0
# How often the JSON tree is also walked for files written since the cursor, in case
# its watch missed one.
TREE_SWEEP_S = 30.0
# After a scan by time (databases without an event log), wait this many times its cost
# before the next: at most a tenth of a core, however big the database.
SCAN_SHARE = 10.0
# Sessions whose fingerprints are kept in memory (reloaded from their log when needed).
_MAX_SESSIONS = 256
_MAX_WARNED = 1000


class OpenCodeMirror:
    # Its task is `mirror_<agent>` and its /health component `<agent>`.
    agent = "opencode"

    def __init__(self, data_dir: Path, mirror_dir: Path, *, poll_s: float = POLL_S) -> None:
        self.data_dir = data_dir
        self.mirror_dir = mirror_dir
        self.poll_s = poll_s
        self._cursor = self._load_cursor()
        self._seen: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._paths: dict[str, Path] = {}
        self._warned: OrderedDict[str, None] = OrderedDict()
        # How long to wait after a database read before the next (see SCAN_SHARE).
        self.min_gap_s = 0.0
        # For /health: why the database cannot be read now, and how it was read last.
        self.problem: str | None = None
        self.way = ""
        # The newest message and part rowids at the last read, and whether OpenCode's
        # event log is kept (False once rows were seen added without events).
        self._row_mark: tuple[int, int] | None = None
        self._log_kept = True
        # The database and the tree are synced in worker threads: their appends (and the
        # fingerprints and cursor) one at a time.
        self._lock = threading.Lock()

    # -- one pass ---------------------------------------------------------------------

    def sync(self) -> int:
        """Read everything new in both layouts; returns the records written."""
        # The engine follows this folder from its start: made now, it sees the first
        # session's first record as it is written (a missing root is only polled for).
        self.mirror_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        written = self.sync_database() + self.sync_tree()
        self.forget_deleted()
        return written

    def sync_database(self) -> int:
        db = self.data_dir / DB_NAME
        if not db.is_file():
            return 0
        since = self._since("db_ms")
        started = time.perf_counter()
        after = self._cursor.get("event_rowid") if self._log_kept else None
        try:
            read = read_database(db, since, after, self._row_mark)
        except StorageError as exc:
            self._warn("opencode database unreadable; will retry", str(exc))
            self.problem = str(exc)
            return 0
        self.problem = None
        self.way = "by its tables" if read.scanned else "by its event log"
        self._row_mark = read.row_mark
        if read.log_not_kept:
            self._log_kept = False
            log.info("this OpenCode keeps no event log; reading its tables instead", agent="opencode")
        if read.scanned:
            # A scan costs more as the database grows: keep it to a tenth of a core.
            self.min_gap_s = SCAN_SHARE * (time.perf_counter() - started)
        else:
            self.min_gap_s = 0.0
        rowid = read.event_rowid if self._log_kept else None
        return self._apply("db_ms", read.rows, read.problems, in_order=not read.scanned, event_rowid=rowid)

    def forget_deleted(self) -> int:
        """Remove the logs of sessions OpenCode deleted (the engine then removes them, as it
        does a deleted transcript); returns how many. Databases only: deleting a session
        leaves no trace in its rows or its event log."""
        db = self.data_dir / DB_NAME
        if not db.is_file():
            return 0
        try:
            kept = session_ids(db)
        except StorageError:
            return 0  # the next read says why, once
        gone = [p for p in [*self.mirror_dir.glob("*.jsonl"), *self.mirror_dir.glob("*/subagents/*.jsonl")]
                if p.stem not in kept]
        with self._lock:
            for path in gone:
                path.unlink(missing_ok=True)
                self._seen.pop(path.stem, None)
                self._paths.pop(path.stem, None)
        if gone:
            log.info("opencode sessions deleted in OpenCode", agent="opencode", count=len(gone))
        return len(gone)

    def sync_tree(self, paths: Iterable[Path] | None = None) -> int:
        storage = self.data_dir / STORAGE
        if not storage.is_dir():
            return 0
        if paths is None:
            paths = tree_files_since(storage, self._since("tree_ms") * 1_000_000)
        rows, problems = read_tree_files(storage, paths)
        return self._apply("tree_ms", rows, problems)

    def _since(self, layout: str) -> int:
        known = self._cursor.get(layout)
        if known is None:
            return int(time.time() * 1000) - FIRST_WINDOW_MS
        return known - SLACK_MS

    def _apply(self, layout: str, rows: list[Row], problems: list[str], *, in_order: bool = False,
               event_rowid: int | None = None) -> int:
        """Append the records of `rows` (in their order when it is OpenCode's own, its event
        log; else in write order), then save the cursor once: the newest write time seen,
        and `event_rowid`, the event log read up to."""
        with self._lock:
            written = self._append(rows if in_order else in_write_order(rows), problems)
            cursor = dict(self._cursor)
            newest = max((r.updated_ms for r in rows), default=None)
            if newest is not None and newest > cursor.get(layout, 0):
                cursor[layout] = newest
            if event_rowid is not None:
                cursor["event_rowid"] = event_rowid
            if cursor != self._cursor:
                self._cursor = cursor
                self._save_cursor()
            return written

    def _append(self, rows: list[Row], problems: list[str]) -> int:
        for problem in problems:
            self._warn("opencode row skipped", problem)
        for row in rows:
            if row.kind == "session" and row.session_id not in self._paths:
                self._paths[row.session_id] = self._path_for(row)
        by_session: dict[str, list[JSONDict]] = {}
        for row in rows:
            try:
                record = to_record(row)
            except BadRow as exc:
                self._warn("opencode row skipped", f"{exc} ({row.kind} {row.id[:40]})")
                continue
            seen = self._seen_for(row.session_id)
            key, mark = record_key(record), hash(fingerprint(record))
            if seen.get(key) == mark:
                continue
            seen[key] = mark
            by_session.setdefault(row.session_id, []).append(record)
        written = 0
        for sid, records in by_session.items():
            path = self._log_path(sid)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
            # The log's mtime is when OpenCode last wrote the session, as a transcript's
            # is: the engine starts sessions untouched for a day as idle, unread.
            last_ms = max((r["at"] for r in records if isinstance(r.get("at"), int)), default=None)
            if last_ms is not None:
                os.utime(path, ns=(last_ms * 1_000_000, last_ms * 1_000_000))
            written += len(records)
        return written

    def _log_path(self, sid: str) -> Path:
        return self._paths.get(sid) or self.mirror_dir / f"{sid}.jsonl"

    def _path_for(self, row: Row) -> Path:
        parent = good_id(row.data.get("parentID"))
        if parent:
            return self.mirror_dir / parent / "subagents" / f"{row.session_id}.jsonl"
        return self.mirror_dir / f"{row.session_id}.jsonl"

    def _seen_for(self, sid: str) -> dict[str, int]:
        """The fingerprint of the last record written for each row of a session, loaded
        from its log the first time it is needed."""
        seen = self._seen.get(sid)
        if seen is not None:
            self._seen.move_to_end(sid)
            return seen
        seen = {}
        try:
            with open(self._log_path(sid), encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a torn last line (a crash mid-write): rewritten next
                    if isinstance(record, dict):
                        seen[record_key(record)] = hash(fingerprint(record))
        except FileNotFoundError:
            pass
        self._seen[sid] = seen
        while len(self._seen) > _MAX_SESSIONS:
            self._seen.popitem(last=False)
        return seen

    def _warn(self, event: str, reason: str) -> None:
        """One warning per distinct problem: a bad row is read again on every pass."""
        if reason in self._warned:
            return
        self._warned[reason] = None
        while len(self._warned) > _MAX_WARNED:
            self._warned.popitem(last=False)
        log.warning(event, agent="opencode", reason=reason)

    def health(self) -> ComponentHealth:
        """`/health`'s `opencode` component."""
        if self.problem is not None:
            return ComponentHealth("degraded", self.problem)
        if (self.data_dir / DB_NAME).is_file():
            return ComponentHealth("ok", f"following {self.data_dir / DB_NAME} {self.way}".rstrip())
        if (self.data_dir / STORAGE).is_dir():
            return ComponentHealth("ok", f"following {self.data_dir / STORAGE}")
        return ComponentHealth("ok", f"no OpenCode data in {self.data_dir} yet")

    # -- the cursor ---------------------------------------------------------------------

    def _load_cursor(self) -> dict[str, int]:
        try:
            data: Any = json.loads((self.mirror_dir / CURSOR_NAME).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        keys = ("db_ms", "tree_ms", "event_rowid")
        return {k: v for k, v in data.items() if k in keys and isinstance(v, int) and not isinstance(v, bool)}

    def _save_cursor(self) -> None:
        self.mirror_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.mirror_dir / (CURSOR_NAME + ".tmp")
        tmp.write_text(json.dumps(self._cursor), "utf-8")
        os.replace(tmp, self.mirror_dir / CURSOR_NAME)

    # -- following --------------------------------------------------------------------

    async def run(self) -> None:
        """Follow both layouts until cancelled (a supervised task)."""
        await asyncio.gather(self._follow_database(), self._follow_tree())

    async def _follow_database(self) -> None:
        watch = CommitWatch(self.data_dir / DB_NAME)
        checked_at, dirty = time.monotonic(), False
        try:
            while True:
                if watch.changed():
                    await asyncio.to_thread(self.sync_database)
                    dirty = True
                if dirty and time.monotonic() - checked_at >= FORGET_EVERY_S:
                    checked_at, dirty = time.monotonic(), False
                    await asyncio.to_thread(self.forget_deleted)
                await asyncio.sleep(max(self.poll_s, self.min_gap_s))
        finally:
            watch.close()

    async def _follow_tree(self) -> None:
        from watchfiles import awatch

        storage, db = self.data_dir / STORAGE, self.data_dir / DB_NAME
        while not storage.is_dir():
            await asyncio.sleep(1.0)
        await asyncio.to_thread(self.sync_tree)
        if db.exists():
            return  # OpenCode 1.2 and later: the files are what it left when it moved to SQLite
        # Every TREE_SWEEP_S (and once, as soon as the watch is up: files written before
        # it began are not reported) the files written since the cursor are read too.
        swept_at = None
        async for changes in awatch(storage, step=50, debounce=100, recursive=True, yield_on_timeout=True,
                                    rust_timeout=1000):
            if changes:
                paths = [Path(p) for _, p in changes]
                await asyncio.to_thread(self.sync_tree, with_new_folders(paths))
            now = time.monotonic()
            if swept_at is None or now - swept_at >= TREE_SWEEP_S:
                swept_at = now
                await asyncio.to_thread(self.sync_tree)
                if db.exists():
                    return  # upgraded: the database is followed from now on


def with_new_folders(paths: list[Path]) -> list[Path]:
    """The changed paths, with every file of a changed folder: files written right after
    their folder was made can come before the watch on that folder (OpenCode makes
    `message/<session>/` and writes the first message at once), and be reported as the
    folder alone."""
    found = list(paths)
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            found.extend(p for p in path.rglob("*.json") if p.is_file() and not p.is_symlink())
    return found
