"""Persistence of what a restart needs: the event log, the sessions, the file offsets.

Each event is committed before any client sees it: the hub holds published events
(`EventHub.gated`) until `flush` has written them, with the sessions and offsets they
imply, in one transaction (WAL, synchronous=NORMAL: a committed transaction survives a
process kill), then `on_flushed` releases them. A `kill -9` can therefore lose only
events no client has seen, and the restart re-derives those from the transcripts: none
is ever delivered twice. The flush runs in the next turn of the loop (`call_soon`), or
under load at most every FLUSH_GAP_S, so many events share one transaction. Event ids
are reserved in blocks, synchronously and rarely, so ids keep increasing across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from sessiond.engine.hub import Event, encode_frame
from sessiond.engine.table import Previous
from sessiond.protocol import ComponentHealth, JSONDict, Session
from sessiond.store.db import Store, StoreError, no_space

log = structlog.get_logger(__name__)

ID_BLOCK = 1000
PRUNE_EVERY_S = 60.0
FLUSH_GAP_S = 0.01
_RESERVED_KEY = "event_id_reserved"
# While the disk refuses writes, events wait in memory up to this many (the oldest are
# dropped first: they are in the hub's history, and a restart rebuilds from transcripts).
MAX_PENDING_EVENTS = 20_000
# A failing write is logged once a minute, with the count of failures since.
WARN_EVERY_S = 60.0
# A failed write is tried again this much later, even if no new event comes.
RETRY_S = 1.0
ID_FLOOR_NAME = "event-id"
_ID_FLOOR_SIZE = 32


class IdFloor:
    """The highest event id reserved, in a small file beside the database.

    It outlives a corrupt database (moved aside and rebuilt) and a full disk: created at
    start with a fixed size, it is then only overwritten in place, which needs no free
    block. Ids therefore never go backwards, whatever happened to the database.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        try:
            text = self.path.read_bytes().decode("ascii", errors="replace").strip()
            return int(text) if text.isdigit() else 0
        except OSError:
            return 0

    def write(self, value: int) -> None:
        data = str(value).encode().ljust(_ID_FLOOR_SIZE)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)


class Persistence:
    def __init__(
        self,
        store: Store,
        *,
        keep_events: int = 10_000,
        keep_seconds: float = 86_400.0,
        flush_delay: float = 0.0,
    ) -> None:
        self.store = store
        self.keep_events = keep_events
        self.keep_seconds = keep_seconds
        self.flush_delay = flush_delay
        self._events: list[Event] = []
        # session id -> its JSON (or the `session` event that carries it), None: removed
        self._sessions: dict[str, JSONDict | Event | None] = {}
        self._offsets: dict[str, tuple[int, int] | None] = {}
        # kv rows written with the events they go with (the bus's read position).
        self._kv: dict[str, Any] = {}
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._reserved = 0
        self._pruned_at = 0.0
        self._flushed_at = -FLUSH_GAP_S
        self.failures = 0
        self.dropped_events = 0
        # Why the last write failed (None: the last write went through).
        self.problem: str | None = None
        self._warned_at = -WARN_EVERY_S
        self._unwarned = 0
        self.id_floor = IdFloor(store.path.with_name(ID_FLOOR_NAME))
        # The last id committed by the previous run (ids reserved beyond it were never seen).
        self.last_logged = 0
        # Called after each flush, committed or not: the hub releases the events to the
        # clients (a failed write is reported by /health; the daemon keeps serving).
        self.on_flushed: Callable[[], None] | None = None

    def load(self) -> tuple[int, list[Event], Previous]:
        """The first free event id, the recent history, and the previous run's state."""
        rows = self.store.load_events(self.keep_events)
        history = []
        for event_id, kind, agent, session_id, to_status, data in rows:
            payload = json.loads(data)
            frame = encode_frame(kind, payload, event_id)
            history.append(Event(event_id, kind, payload, frame, agent, session_id, to_status))
        last_logged = history[-1].id if history else 0
        self.last_logged = last_logged
        last_id = max(last_logged, int(self.store.get_json(_RESERVED_KEY, 0)), self.id_floor.read())
        sessions = {}
        for sid, data in self.store.load_sessions().items():
            try:
                sessions[sid] = Session.from_json(json.loads(data))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring an unreadable stored session", session=sid)
        offsets = {Path(p): v for p, v in self.store.load_offsets().items()}
        self._reserve(last_id)
        return last_id, history, Previous(sessions, offsets)

    # -- fed by the hub and the engine -------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.id >= self._reserved - ID_BLOCK // 2:
            self._reserve(event.id)
        self._events.append(event)
        if event.session_id is not None:
            if event.kind == "session":
                self._sessions[event.session_id] = event  # its JSON is in its frame already
            elif event.kind == "transition":
                self._sessions[event.session_id] = event.data["session"]
            elif event.kind == "removed":
                self._sessions[event.session_id] = None
        self._schedule()

    def on_offset(self, path: Path, position: tuple[int, int] | None) -> None:
        self._offsets[str(path)] = position
        self._schedule()

    def on_kv(self, key: str, value: Any) -> None:
        """A kv row committed in the same transaction as the events published before it
        (so a position read from elsewhere never runs ahead of what clients were given)."""
        self._kv[key] = value
        self._schedule()

    def _reserve(self, last_id: int) -> None:
        """Reserve the next block of ids on disk before any of them is used."""
        self._reserved = last_id + ID_BLOCK
        try:
            self.id_floor.write(self._reserved)
        except OSError as exc:
            self._failed(f"cannot save the event id floor: {exc.strerror or exc}")
        with contextlib.suppress(StoreError, sqlite3.Error):
            self.store.set_json(_RESERVED_KEY, self._reserved)

    def health(self) -> ComponentHealth:
        if self.problem is None:
            dropped = f", {self.dropped_events} event(s) not saved" if self.dropped_events else ""
            return ComponentHealth("ok", f"saving events{dropped}")
        return ComponentHealth("degraded", self.problem)

    def _failed(self, problem: str) -> None:
        """Note a failed write; log it at most once a minute, with a count."""
        self.failures += 1
        self.problem = problem
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            log.warning("could not write to the state dir", error=problem,
                        failures_since_last_warning=self._unwarned)
            self._warned_at, self._unwarned = now, 0
        else:
            self._unwarned += 1

    def _schedule(self) -> None:
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        # At most one transaction per FLUSH_GAP_S: when quiet, an event is written at
        # once; under load (thousands of events a second) one transaction takes many
        # turns' worth, instead of one per turn of the loop.
        wait = max(self.flush_delay, self._flushed_at + FLUSH_GAP_S - time.monotonic())
        if wait > 0:
            self._handle = loop.call_later(wait, self.flush)
        else:
            self._handle = loop.call_soon(self.flush)

    # -- writing ----------------------------------------------------------------------

    def flush(self) -> None:
        try:
            self._write()
        finally:
            if self.on_flushed is not None:
                self.on_flushed()

    def _write(self) -> None:
        self._handle = None
        if not (self._events or self._sessions or self._offsets or self._kv):
            return
        self._flushed_at = time.monotonic()
        events, sessions, offsets, kv = self._events, self._sessions, self._offsets, self._kv
        self._events, self._sessions, self._offsets, self._kv = [], {}, {}, {}
        now = time.time()
        try:
            with self.store.transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (e.id, e.kind, e.agent, e.session_id, e.to_status, e.data_json, now)
                        for e in events
                    ],
                )
                for sid, data in sessions.items():
                    if data is None:
                        db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                    else:
                        db.execute(
                            "INSERT OR REPLACE INTO sessions VALUES (?, ?)",
                            (sid, data.data_json if isinstance(data, Event)
                             else json.dumps(data, ensure_ascii=False)),
                        )
                for path, position in offsets.items():
                    if position is None:
                        db.execute("DELETE FROM files WHERE path = ?", (path,))
                    else:
                        db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (path, *position))
                for key, value in kv.items():
                    db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                               "SET value = excluded.value", (key, json.dumps(value)))
                # Pruning scans the rows it may delete: once a minute, not once per
                # N flushes (under load the loop flushes hundreds of times a second).
                if now - self._pruned_at >= PRUNE_EVERY_S:
                    self._pruned_at = now
                    self._prune(db, now)
        except Exception as exc:
            # The daemon keeps serving from memory; the next flush tries again (after a
            # rebuild of a corrupt database, into the fresh one).
            reason = "the disk is full" if no_space(exc) else str(exc)
            self._failed(f"cannot write the database: {reason}")
            self._events = events + self._events
            if len(self._events) > MAX_PENDING_EVENTS:
                drop = len(self._events) - MAX_PENDING_EVENTS
                self.dropped_events += drop
                del self._events[:drop]
            for sid, data in sessions.items():
                self._sessions.setdefault(sid, data)
            for path, position in offsets.items():
                self._offsets.setdefault(path, position)
            for key, value in kv.items():
                self._kv.setdefault(key, value)
            with contextlib.suppress(RuntimeError):  # no loop: offline use
                self._handle = asyncio.get_running_loop().call_later(RETRY_S, self.flush)
            return
        self.problem = None

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """Keep at least the last `keep_events` events, and everything of the last day."""
        row = db.execute("SELECT MAX(id) FROM events").fetchone()
        if row is None or row[0] is None:
            return
        # Ids and creation times rise together, so the rows older than a day are the
        # ones before the first newer row: found by walking only those (no index on
        # `created`), then deleted as one range of the primary key.
        limit = row[0] - self.keep_events
        recent = db.execute(
            "SELECT id FROM events WHERE created >= ? ORDER BY id LIMIT 1",
            (now - self.keep_seconds,),
        ).fetchone()
        if recent is not None:
            limit = min(limit, recent[0] - 1)
        db.execute("DELETE FROM events WHERE id <= ?", (limit,))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self.flush()
