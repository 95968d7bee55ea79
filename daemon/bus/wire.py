"""What goes on the bus, and what is accepted from it: pure, no I/O.

One Redis stream (`sessiond:events`) carries every machine's entries. An entry is a flat
map of short fields:

    v     "1"
    host  the machine's name
    kind  "session" | "transition" | "removed" | "snapshot"
    id    the machine's own event id ("0" for a snapshot)
    data  the contract's JSON for that kind (a snapshot: {"sessions": [...]})

Everything read from the bus is untrusted: an entry is size-capped, each field checked,
every session validated against the protocol's words (agent, status, source) and clipped
by `Session` itself. A bad entry becomes a `BadEntry` with one sentence, never an error.
Held decisions are never taken from the bus (they can only be answered on their machine).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from sessiond.protocol import (
    AGENTS,
    MAX_ID,
    STATUSES,
    JSONDict,
    Removed,
    Session,
    Transition,
    bound,
    parse_ts,
)

STREAM = "sessiond:events"
HEARTBEAT_PREFIX = "sessiond:alive:"
SNAPSHOT_PREFIX = "sessiond:snapshot:"
VERSION = b"1"
# An entry's bytes at most (a snapshot may hold a machine's every session).
MAX_ENTRY_BYTES = 256 * 1024
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
MAX_SNAPSHOT_SESSIONS = 5000
SOURCES = ("transcript", "hook", "timer")

Kind = Literal["session", "transition", "removed", "snapshot"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One machine's change, checked."""

    host: str
    kind: Kind
    event_id: int
    session: Session | None = None  # session, and transition's session
    transition: Transition | None = None
    removed: Removed | None = None
    sessions: tuple[Session, ...] = ()  # snapshot


@dataclass(frozen=True, slots=True)
class BadEntry:
    host: str
    why: str


def encode(host: str, kind: Kind, event_id: int, data: JSONDict) -> dict[str, bytes]:
    """The stream fields for one of this machine's changes."""
    return {"v": VERSION, "host": host.encode(), "kind": kind.encode(), "id": str(event_id).encode(),
            "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()}


def decode(fields: dict[bytes, bytes], name_ok: Any) -> Entry | BadEntry:
    """An entry read from the stream (`name_ok(name)`: None when a machine name is valid)."""
    size = sum(len(k) + len(v) for k, v in fields.items())
    host = _text(fields.get(b"host"))[:100]
    kind = _text(fields.get(b"kind"))
    limit = MAX_SNAPSHOT_BYTES if kind == "snapshot" else MAX_ENTRY_BYTES
    if size > limit:
        return BadEntry(host, f"{size} bytes, over the {limit} allowed")
    if fields.get(b"v") != VERSION:
        return BadEntry(host, "not a sessiond entry of a version this daemon reads")
    if name_ok(host) is not None:
        return BadEntry(host, "its machine name is not valid")
    raw_id = _text(fields.get(b"id"))
    if kind not in ("session", "transition", "removed", "snapshot") or not raw_id.isdigit():
        return BadEntry(host, "an unknown kind or a bad event id")
    try:
        data = json.loads(fields.get(b"data", b""))
    except (ValueError, RecursionError):
        return BadEntry(host, "its data is not JSON")
    if not isinstance(data, dict):
        return BadEntry(host, "its data is not a JSON object")
    try:
        return _entry(host, cast(Kind, kind), int(raw_id), data)
    except (KeyError, TypeError, ValueError) as exc:
        return BadEntry(host, f"its {kind} does not match the protocol ({exc})")


def _entry(host: str, kind: Kind, event_id: int, data: JSONDict) -> Entry:
    if kind == "session":
        return Entry(host, kind, event_id, session=session_of(host, data))
    if kind == "removed":
        sid = data["session_id"]
        if not isinstance(sid, str) or not sid:
            raise ValueError("no session id")
        return Entry(host, kind, event_id, removed=Removed(bound(sid, MAX_ID)))
    if kind == "snapshot":
        items = data["sessions"]
        if not isinstance(items, list) or len(items) > MAX_SNAPSHOT_SESSIONS:
            raise ValueError("sessions must be a list of at most 5000")
        return Entry(host, kind, event_id, sessions=tuple(session_of(host, s) for s in items))
    session = session_of(host, data["session"])
    to, source = data["to"], data["source"]
    before = data.get("from")
    at = parse_ts(data.get("at"))
    if to not in STATUSES or (before is not None and before not in STATUSES) or source not in SOURCES:
        raise ValueError("a status or source that is not the protocol's")
    if at is None or session.id != data.get("session_id"):
        raise ValueError("no time, or a session id that differs from its session's")
    transition = Transition(session_id=session.id, from_status=before, to_status=to, at=at,
                            reason=str(data.get("reason") or ""), source=source, session=session)
    return Entry(host, kind, event_id, session=session, transition=transition)


def session_of(host: str, data: object) -> Session:
    """A session from the bus: the protocol's words only, its host the entry's own, no
    decision to answer (that is its machine's), bounded by `Session` itself."""
    if not isinstance(data, dict):
        raise TypeError("a session must be a JSON object")
    sid, agent, status = data.get("id"), data.get("agent"), data.get("status")
    if not isinstance(sid, str) or not sid or agent not in AGENTS or status not in STATUSES:
        raise ValueError("a session needs an id, a known agent and a known status")
    if data.get("source", "transcript") not in SOURCES:
        raise ValueError("an unknown source")
    parent = data.get("parent_id")
    if parent is not None and not isinstance(parent, str):
        raise TypeError("parent_id must be a string")
    session = Session.from_json(data)
    # Its terminal is on its machine: nothing here can focus or type into it.
    return replace(session, host=host, decision=None, offline=False, terminal=None,
                   terminal_note=f"runs on {host}: focus it there")


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""


def redacted(url: str) -> str:
    """The bus URL as it may be shown or logged: never its password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, where = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{where}"
