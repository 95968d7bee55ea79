"""The session table: one `SessionEntry` per session id, holding everything the engine
knows about it, so that forgetting a session is one call (`SessionTable.remove`).

An entry can exist before its session is shown (a file found but still empty, a parent
named by a subagent): `shown` is None until the first classification is applied, and
`SessionTable.shown` lists only shown sessions.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sessiond.engine import timers
from sessiond.engine.files import TrackedFile
from sessiond.protocol import Session, Terminal


@dataclass(eq=False, slots=True)
class SessionEntry:
    session_id: str
    # The session as last applied (what /api shows and the last event carried).
    shown: Session | None = None
    # The transcript that carries this session (compaction files carry none).
    file: Path | None = None
    # The stand-in for a session known from its hooks only, until its transcript is read.
    hook_file: TrackedFile | None = None
    # A file too old to read at start-up: the session as shown until it grows.
    cold: Session | None = None
    # The deadline at which its status may change on its own (see timers.py).
    timer: asyncio.TimerHandle | None = None
    # `last_activity` of the last `session` event (it alone is published only now and then).
    activity_published: datetime | None = None
    # When a compaction transcript of this session was last written.
    compacting_since: datetime | None = None
    # Its subagents' session ids.
    children: set[str] = field(default_factory=set)
    # When the engine first saw it active (process discovery: an agent process started
    # after this cannot have written it).
    first_seen: datetime | None = None
    # Where its agent runs, from `sessiond.terminals` (None: not found, the note says why).
    terminal: Terminal | None = None
    terminal_note: str = ""
    # Another machine's session, from the bus (`engine.remote`): no file, no timers.
    remote: bool = False


class ShownSessions(Mapping[str, Session]):
    """A read-only view: session id -> the session as shown, for shown sessions only."""

    def __init__(self, entries: dict[str, SessionEntry]) -> None:
        self._entries = entries

    def __getitem__(self, session_id: str) -> Session:
        entry = self._entries[session_id]
        if entry.shown is None:
            raise KeyError(session_id)
        return entry.shown

    def __iter__(self) -> Iterator[str]:
        return (sid for sid, e in self._entries.items() if e.shown is not None)

    def __len__(self) -> int:
        return sum(1 for e in self._entries.values() if e.shown is not None)


class SessionTable:
    def __init__(self) -> None:
        self._entries: dict[str, SessionEntry] = {}
        self.shown = ShownSessions(self._entries)
        # Sessions known from hooks only (their `hook_file` set), least recently heard first.
        self._hook_only: OrderedDict[str, None] = OrderedDict()

    def get(self, session_id: str) -> SessionEntry | None:
        return self._entries.get(session_id)

    def entry(self, session_id: str) -> SessionEntry:
        """The session's entry, created empty if there is none yet."""
        entry = self._entries.get(session_id)
        if entry is None:
            entry = self._entries[session_id] = SessionEntry(session_id)
        return entry

    def file_of(self, session_id: str) -> Path | None:
        entry = self._entries.get(session_id)
        return entry.file if entry is not None else None

    def remove(self, session_id: str) -> Session | None:
        """Forget everything about a session; returns what was shown of it, if anything."""
        entry = self._entries.pop(session_id, None)
        self._hook_only.pop(session_id, None)
        for other in self._entries.values():
            other.children.discard(session_id)
        if entry is None:
            return None
        timers.cancel(entry)
        return entry.shown

    def set_hook_file(self, entry: SessionEntry, tracked: TrackedFile) -> None:
        """Give a hook-only session its stand-in file; it becomes the most recently heard."""
        entry.hook_file = tracked
        self._hook_only[entry.session_id] = None
        self._hook_only.move_to_end(entry.session_id)

    def drop_hook_file(self, entry: SessionEntry) -> None:
        """Its transcript is read now: the stand-in is no longer needed."""
        entry.hook_file = None
        self._hook_only.pop(entry.session_id, None)

    def hook_only_count(self) -> int:
        return len(self._hook_only)

    def oldest_hook_only(self) -> SessionEntry:
        return self._entries[next(iter(self._hook_only))]

    def close(self) -> None:
        for entry in self._entries.values():
            timers.cancel(entry)


@dataclass(slots=True)
class Previous:
    """What the last run left: sessions as last published, and where each file was read to."""

    sessions: dict[str, Session] = field(default_factory=dict)
    offsets: dict[Path, tuple[int, int]] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return bool(self.sessions or self.offsets)
