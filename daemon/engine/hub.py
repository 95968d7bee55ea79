"""The event hub: numbered events, a bounded history for resume, fan-out to SSE clients.

Every change becomes an `Event` with a strictly increasing id. Its SSE frame is encoded
once, at publish time, and the same bytes are handed to every client, so fan-out costs
one deque append per client. Each client has its own bounded backlog; a client that
stops reading is cut off when its backlog fills, so it never slows the others or grows
memory (it reconnects with `Last-Event-ID` and resumes from the history).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sessiond.protocol import JSONDict

EventKind = str  # "session" | "transition" | "removed"


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: EventKind
    data: JSONDict
    frame: bytes
    agent: str | None = None
    session_id: str | None = None
    # For transitions: the status entered (what `?status=` filters on).
    to_status: str | None = None

    @property
    def data_json(self) -> str:
        """`data` as JSON text, sliced from the frame rather than encoded again."""
        start = self.frame.index(b"\ndata: ") + 7
        return self.frame[start:-2].decode("utf-8", errors="replace")


def encode_frame(kind: str, data: JSONDict, event_id: int | None = None) -> bytes:
    """One SSE frame. JSON never contains a raw newline, so one `data:` line suffices.

    Never raises on text: a lone surrogate that got past `protocol.clip` (it cannot be
    encoded as UTF-8) becomes `?` instead of failing the publish.
    """
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {body}\n\n".encode("utf-8", errors="replace")


def host_of(event: Event) -> str | None:
    """The machine an event is about (None: a removal, which names none)."""
    session = event.data.get("session") if event.kind == "transition" else event.data
    host = session.get("host") if isinstance(session, dict) else None
    return host if isinstance(host, str) and event.kind != "removed" else None


@dataclass(frozen=True, slots=True)
class EventFilter:
    agent: str | None = None
    session: str | None = None
    status: str | None = None
    # `?host=NAME`: one machine's sessions ("" is this machine's, for sessions from before
    # they carried a host). A removal passes: it names no machine, and costs nothing.
    host: str | None = None

    def matches(self, event: Event) -> bool:
        if self.agent is not None and event.agent != self.agent:
            return False
        if self.host is not None and (found := host_of(event)) is not None and found != self.host:
            return False
        if self.session is not None and event.session_id != self.session:
            return False
        # `?status=` asks for transitions into that status only.
        return self.status is None or (
            event.kind == "transition" and event.to_status == self.status
        )

    def matches_session(self, session: JSONDict) -> bool:
        """For snapshots: does this session belong in a filtered client's board?"""
        if self.agent is not None and session.get("agent") != self.agent:
            return False
        if self.session is not None and session.get("id") != self.session:
            return False
        if self.host is not None and session.get("host") != self.host:
            return False
        return self.status is None or session.get("status") == self.status


@dataclass(slots=True)
class MemoryBudget:
    """The bytes every SSE client together may hold: queued frames plus what its socket
    has not sent yet (reported by the stream handler before each write)."""

    limit: int = 64 * 1024 * 1024
    used: int = 0
    cut: int = 0  # clients cut off to stay within it


@dataclass(eq=False, slots=True)
class Subscriber:
    filter: EventFilter
    limit: int
    budget: MemoryBudget = field(default_factory=MemoryBudget)
    backlog: deque[bytes] = field(default_factory=deque)
    # Bytes counted against the budget: the backlog, and the socket's unsent bytes.
    queued_bytes: int = 0
    socket_bytes: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when the backlog overflowed: the client is cut off.
    overflowed: bool = False
    closed: bool = False
    # Called once on overflow: the server aborts the connection, which also frees a
    # handler blocked writing to a client that stopped reading.
    on_overflow: Callable[[], None] | None = None

    @property
    def held(self) -> int:
        return self.queued_bytes + self.socket_bytes

    def offer(self, frame: bytes) -> None:
        if self.overflowed or self.closed:
            return
        if len(self.backlog) >= self.limit:
            self.cut_off()
        else:
            self.backlog.append(frame)
            self.queued_bytes += len(frame)
            self.budget.used += len(frame)
        self.ready.set()

    def take(self) -> bytes:
        """Everything queued, as one write."""
        frames = b"".join(self.backlog)
        self.backlog.clear()
        self.budget.used -= self.queued_bytes
        self.queued_bytes = 0
        self.ready.clear()
        return frames

    def set_socket_bytes(self, unsent: int) -> None:
        self.budget.used += unsent - self.socket_bytes
        self.socket_bytes = unsent

    def cut_off(self) -> None:
        """Stop this client: it holds too much (it reconnects and resumes from history)."""
        if self.overflowed:
            return
        self.overflowed = True
        self.backlog.clear()
        self.budget.used -= self.queued_bytes + self.socket_bytes
        self.queued_bytes = self.socket_bytes = 0
        if self.on_overflow is not None:
            self.on_overflow()
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.ready.set()


class EventHub:
    """Numbered events, their history, and their fan-out.

    With `gated` set (the daemon, with persistence), a published event reaches the
    clients only once `release()` says it is committed to disk: an event a client has
    seen is never re-derived and sent again under a new id after a `kill -9`.
    """

    def __init__(self, *, capacity: int = 10_000, client_limit: int = 2_000, first_id: int = 0,
                 memory_budget: int = 64 * 1024 * 1024):
        self.budget = MemoryBudget(memory_budget)
        self._history: deque[Event] = deque(maxlen=capacity)
        self._subscribers: set[Subscriber] = set()
        self._client_limit = client_limit
        self.last_id = first_id
        # New ids are above this (ids a previous run reserved but never used).
        self.id_floor = first_id
        self.dropped_clients = 0
        self.gated = False
        self._pending: list[Event] = []
        self._settled: asyncio.Event | None = None

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    @property
    def oldest_id(self) -> int | None:
        return self._history[0].id if self._history else None

    def publish(
        self,
        kind: EventKind,
        data: JSONDict,
        *,
        agent: str | None = None,
        session_id: str | None = None,
        to_status: str | None = None,
    ) -> Event:
        self.last_id = max(self.last_id, self.id_floor) + 1
        frame = encode_frame(kind, data, self.last_id)
        event = Event(self.last_id, kind, data, frame, agent, session_id, to_status)
        self._history.append(event)
        if self.gated:
            self._pending.append(event)
            if self._settled is not None:
                self._settled.clear()
        else:
            self._offer(event)
        return event

    def _offer(self, event: Event) -> None:
        for sub in self._subscribers:
            if sub.filter.matches(event):
                sub.offer(event.frame)
        self.keep_within_budget()

    def keep_within_budget(self, extra: int = 0) -> None:
        """Cut the clients holding most until all of them (plus `extra` bytes about to be
        written) fit the memory budget: one slow client costs itself, not the daemon."""
        while self.budget.used + extra > self.budget.limit:
            live = [s for s in self._subscribers if not s.overflowed and s.held > 0]
            if not live:
                return
            max(live, key=lambda s: s.held).cut_off()
            self.budget.cut += 1

    @property
    def released_id(self) -> int:
        """The last id clients may see (every later one still waits for its commit)."""
        return self._pending[0].id - 1 if self._pending else self.last_id

    def release(self) -> None:
        """Everything published so far is committed: hand it to the clients."""
        pending, self._pending = self._pending, []
        for event in pending:
            self._offer(event)
        if self._settled is not None:
            self._settled.set()

    async def settled(self) -> None:
        """Wait until no published event waits for its commit (new clients start there)."""
        while self._pending:
            if self._settled is None:
                self._settled = asyncio.Event()
            self._settled.clear()
            await self._settled.wait()

    def restore(self, events: Iterable[Event]) -> None:
        """Load history persisted by an earlier run (ids keep increasing)."""
        for event in events:
            self._history.append(event)
            self.last_id = max(self.last_id, event.id)

    def subscribe(self, event_filter: EventFilter) -> Subscriber:
        sub = Subscriber(event_filter, self._client_limit, self.budget)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub.overflowed:
            self.dropped_clients += 1
        else:
            self.budget.used -= sub.queued_bytes + sub.socket_bytes
            sub.queued_bytes = sub.socket_bytes = 0
        self._subscribers.discard(sub)
        sub.close()

    def events_after(self, last_seen: int) -> list[Event] | None:
        """Every event after `last_seen`, or None when they are no longer all held."""
        released = self.released_id
        if last_seen > released:
            return None  # an id from another history (state dir wiped): start over
        if last_seen == released:
            return []
        oldest = self.oldest_id
        if oldest is None or last_seen < oldest - 1:
            return None
        return [e for e in self._history if last_seen < e.id <= released]
