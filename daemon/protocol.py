"""The shapes shared by the daemon, the CLI and the web panel (see shared/contract.md).

Everything that crosses a process boundary is defined here once: the status words,
`Session`, `Transition`, `Health`, `RuntimeInfo` and the `inspect` result. The daemon
builds them, `sessiond status` parses them back; both go through `to_json` / `from_json`
so the wire format has exactly one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

Status = Literal["working", "waiting_for_approval", "waiting_for_input", "idle", "ended"]
Source = Literal["transcript", "hook", "timer"]
Agent = Literal["claude", "codex", "gemini", "cursor", "copilot", "opencode"]
ComponentStatus = Literal["ok", "degraded", "unavailable", "failed"]
TerminalKind = Literal["tmux", "kitty", "wezterm", "iterm2", "terminal_app"]

STATUSES: tuple[Status, ...] = get_args(Status)
AGENTS: tuple[Agent, ...] = get_args(Agent)
TERMINAL_KINDS: tuple[TerminalKind, ...] = get_args(TerminalKind)
WAITING: frozenset[Status] = frozenset({"waiting_for_approval", "waiting_for_input"})

# Text taken from transcripts is cut to these lengths before it is shown anywhere.
MAX_TITLE = 200
MAX_SUMMARY = 300
MAX_REASON = 300

JSONDict = dict[str, Any]


def format_ts(when: datetime) -> str:
    """UTC ISO-8601 with millisecond precision and a `Z`, as the contract requires."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(text: object) -> datetime | None:
    """Parse an ISO-8601 timestamp as agents write it; None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def duration_text(delta: timedelta, *, hours: bool = False) -> str:
    """A duration as people read it in a reason or a table: "42 s", "7 min" (or "3 h")."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if hours and seconds >= 7200:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def utcnow() -> datetime:
    return datetime.now(UTC)


# Ids and paths are not display text, but they are shown and sent too: bounded as well.
MAX_ID = 512
MAX_PATH = 4096
# A machine's name (`--name`, the host name).
MAX_HOST = 100

_WORD = re.compile(r"\S+")
# What display text must not carry: C0/C1 control characters (a terminal obeys escape
# sequences: `sessiond status` prints titles), bidirectional overrides (text that reads
# differently from what it says) and lone surrogates (`"\ud800"` in a transcript decodes
# to one; it cannot be encoded as UTF-8, so an SSE frame or a D-Bus call with it fails).
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SURROGATES = range(0xD800, 0xE000)
_DISPLAY_TABLE: dict[int, str | None] = {
    **dict.fromkeys(_CONTROLS + _BIDI),
    **dict.fromkeys(_SURROGATES, "\ufffd"),
}
_SURROGATE_TABLE: dict[int, str | None] = dict.fromkeys(_SURROGATES, "\ufffd")
_BOUND_TABLE: dict[int, str | None] = dict.fromkeys(
    [*_CONTROLS, *_BIDI, *_SURROGATES], "\ufffd"
)


def clip(text: object, limit: int) -> str:
    """One line of display text, at most `limit` characters, never raising.

    Whitespace runs become one space; control characters and bidirectional overrides
    are dropped, lone surrogates become U+FFFD. Only the first words up to `limit` are
    ever looked at, so a 16 MB prompt costs no more than a short one.
    """
    if not isinstance(text, str):
        return ""
    if len(text) <= 4 * limit:
        flat = " ".join(text.split())
    else:
        words: list[str] = []
        size = 0
        for match in _WORD.finditer(text):
            start = match.start()
            words.append(text[start : min(match.end(), start + limit + 1)])
            size += len(words[-1]) + 1
            if size > limit + 1:
                break
        flat = " ".join(words)
    if not flat.isprintable():
        flat = " ".join(flat.translate(_DISPLAY_TABLE).split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


def bound(text: object, limit: int) -> str:
    """An id or a path as shown: at most `limit` characters, no control characters or
    lone surrogates (each becomes U+FFFD), otherwise unchanged."""
    if not isinstance(text, str):
        return ""
    cut = text[:limit]
    return cut if cut.isprintable() else cut.translate(_BOUND_TABLE)


# A pending tool's full input, so a person can judge it: each string at most 64 KiB, the
# whole at most 256 KiB and 8 levels deep. Text keeps its newlines (a diff, a script).
MAX_INPUT_TEXT = 64 * 1024
MAX_INPUT_TOTAL = 256 * 1024
_MAX_INPUT_DEPTH = 8


def tool_input(value: object) -> JSONDict | None:
    """A tool's input as published: a bounded copy of a JSON object, else None."""
    if not isinstance(value, dict):
        return None
    budget = [MAX_INPUT_TOTAL]
    copied = _bounded_value(value, 0, budget)
    return copied if isinstance(copied, dict) else None


def _bounded_value(value: object, depth: int, budget: list[int]) -> object:
    if budget[0] <= 0 or depth > _MAX_INPUT_DEPTH:
        return None
    if isinstance(value, str):
        text = value[: min(MAX_INPUT_TEXT, budget[0])]
        budget[0] -= len(text)
        # Lone surrogates cannot be encoded; everything else is kept (shown as text only).
        return text if text.isprintable() else text.translate(_SURROGATE_TABLE)
    if isinstance(value, bool | int | float) or value is None:
        budget[0] -= 8
        return value
    if isinstance(value, dict):
        out: JSONDict = {}
        for key, item in value.items():
            if budget[0] <= 0:
                break
            name = bound(str(key), 200)
            budget[0] -= len(name)
            out[name] = _bounded_value(item, depth + 1, budget)
        return out
    if isinstance(value, list):
        items: list[object] = []
        for item in value:
            if budget[0] <= 0:
                break
            items.append(_bounded_value(item, depth + 1, budget))
        return items
    return None


@dataclass(frozen=True, slots=True)
class PendingTool:
    name: str
    summary: str
    # The full input (see `tool_input`), when the agent told it: a hook, a transcript line.
    input: JSONDict | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Whoever built it (a classifier, a hook), what is shown stays bounded and safe.
        object.__setattr__(self, "name", clip(self.name, MAX_SUMMARY))
        object.__setattr__(self, "summary", clip(self.summary, MAX_SUMMARY))

    def to_json(self) -> JSONDict:
        data: JSONDict = {"name": self.name, "summary": self.summary}
        if self.input is not None:
            data["input"] = self.input
        return data

    @classmethod
    def from_json(cls, data: object) -> PendingTool | None:
        if not isinstance(data, dict):
            return None
        return cls(name=str(data.get("name", "")), summary=str(data.get("summary", "")),
                   input=tool_input(data.get("input")))


DECISION_ACTIONS = ("allow", "deny")


@dataclass(frozen=True, slots=True)
class Decision:
    """A permission request sessiond holds, which can be answered outside the terminal."""

    id: str
    since: datetime
    expires: datetime
    actions: tuple[str, ...] = DECISION_ACTIONS

    def to_json(self) -> JSONDict:
        return {"id": self.id, "actions": list(self.actions), "since": format_ts(self.since),
                "expires": format_ts(self.expires)}

    @classmethod
    def from_json(cls, data: object) -> Decision | None:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        since, expires = parse_ts(data.get("since")), parse_ts(data.get("expires"))
        if since is None or expires is None:
            return None
        return cls(id=bound(data["id"], 100), since=since, expires=expires)


@dataclass(frozen=True, slots=True)
class Terminal:
    """Where a session's agent runs, as far as sessiond found it (contract: "Acting on a
    wait"). `target` is what a person reads ("work:2.1" for a tmux pane); how to reach it
    (a socket, a pane id) stays inside the daemon (`sessiond.terminals`)."""

    kind: TerminalKind
    target: str
    pid: int
    can_send: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", clip(self.target, MAX_TITLE))

    def to_json(self) -> JSONDict:
        return {"kind": self.kind, "target": self.target, "pid": self.pid, "can_send": self.can_send}

    @classmethod
    def from_json(cls, data: object) -> Terminal | None:
        if not isinstance(data, dict) or data.get("kind") not in TERMINAL_KINDS:
            return None
        pid = data.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        return cls(kind=data["kind"], target=str(data.get("target") or ""), pid=pid,
                   can_send=data.get("can_send") is True)


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    agent: Agent
    status: Status
    status_since: datetime
    last_activity: datetime
    parent_id: str | None = None
    project: str = ""
    cwd: str = ""
    branch: str = ""
    title: str = ""
    pending_tool: PendingTool | None = None
    reason: str = ""
    source: Source = "transcript"
    # A held permission request that can be answered from the panel, a toast or the CLI.
    decision: Decision | None = None
    # Where the agent runs (None: not found; `terminal_note` says why in one sentence).
    terminal: Terminal | None = None
    terminal_note: str = ""
    # The machine whose agent this is (contract: "Several machines"); `offline` while that
    # machine's heartbeat has expired (its sessions are kept, shown dimmed).
    host: str = ""
    offline: bool = False

    def __post_init__(self) -> None:
        # Every field shown anywhere is bounded here, whoever built the session (the
        # engine from a transcript, a hook, the database): see `clip` and `bound`.
        fix = object.__setattr__
        fix(self, "id", bound(self.id, MAX_ID))
        if self.parent_id is not None:
            fix(self, "parent_id", bound(self.parent_id, MAX_ID))
        fix(self, "cwd", bound(self.cwd, MAX_PATH))
        for name in ("project", "branch", "title"):
            fix(self, name, clip(getattr(self, name), MAX_TITLE))
        fix(self, "reason", clip(self.reason, MAX_REASON))
        fix(self, "terminal_note", clip(self.terminal_note, MAX_REASON))
        fix(self, "host", clip(self.host, MAX_HOST))

    def with_changes(self, **changes: Any) -> Session:
        return replace(self, **changes)

    def to_json(self) -> JSONDict:
        return {
            "id": self.id,
            "agent": self.agent,
            "parent_id": self.parent_id,
            "project": self.project,
            "cwd": self.cwd,
            "branch": self.branch,
            "title": self.title,
            "status": self.status,
            "status_since": format_ts(self.status_since),
            "last_activity": format_ts(self.last_activity),
            "pending_tool": self.pending_tool.to_json() if self.pending_tool else None,
            "reason": self.reason,
            "source": self.source,
            "decision": self.decision.to_json() if self.decision else None,
            "terminal": self.terminal.to_json() if self.terminal else None,
            "terminal_note": self.terminal_note,
            "host": self.host,
            "offline": self.offline,
        }

    @classmethod
    def from_json(cls, data: JSONDict) -> Session:
        now = utcnow()
        return cls(
            id=str(data["id"]),
            agent=cast(Agent, data.get("agent", "claude")),
            parent_id=data.get("parent_id"),
            project=str(data.get("project") or ""),
            cwd=str(data.get("cwd") or ""),
            branch=str(data.get("branch") or ""),
            title=str(data.get("title") or ""),
            status=cast(Status, data["status"]),
            status_since=parse_ts(data.get("status_since")) or now,
            last_activity=parse_ts(data.get("last_activity")) or now,
            pending_tool=PendingTool.from_json(data.get("pending_tool")),
            reason=str(data.get("reason") or ""),
            source=cast(Source, data.get("source", "transcript")),
            decision=Decision.from_json(data.get("decision")),
            terminal=Terminal.from_json(data.get("terminal")),
            terminal_note=str(data.get("terminal_note") or ""),
            host=str(data.get("host") or ""),
            offline=data.get("offline") is True,
        )


@dataclass(frozen=True, slots=True)
class Transition:
    session_id: str
    from_status: Status | None
    to_status: Status
    at: datetime
    reason: str
    source: Source
    session: Session
    # How long after the underlying signal (line written, hook received, deadline
    # reached) the transition was published, in milliseconds. Not in the contract's
    # list, which allows added fields.
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "session_id", bound(self.session_id, MAX_ID))
        object.__setattr__(self, "reason", clip(self.reason, MAX_REASON))

    @property
    def is_working_to_waiting(self) -> bool:
        return self.from_status == "working" and self.to_status in WAITING

    def to_json(self) -> JSONDict:
        data: JSONDict = {
            "session_id": self.session_id,
            "from": self.from_status,
            "to": self.to_status,
            "at": format_ts(self.at),
            "reason": self.reason,
            "source": self.source,
            "session": self.session.to_json(),
        }
        if self.latency_ms is not None:
            data["latency_ms"] = round(self.latency_ms, 3)
        return data

    @classmethod
    def from_json(cls, data: JSONDict) -> Transition:
        return cls(
            session_id=str(data["session_id"]),
            from_status=cast("Status | None", data.get("from")),
            to_status=cast(Status, data["to"]),
            at=parse_ts(data.get("at")) or utcnow(),
            reason=str(data.get("reason") or ""),
            source=cast(Source, data.get("source", "transcript")),
            session=Session.from_json(data["session"]),
            latency_ms=data.get("latency_ms"),
        )


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    status: ComponentStatus
    detail: str = ""

    def to_json(self) -> JSONDict:
        return {"status": self.status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Health:
    status: Literal["ok", "degraded"]
    version: str
    pid: int
    uptime_s: float
    sessions: int
    clients: int
    last_event_id: int
    components: dict[str, ComponentHealth] = field(default_factory=dict)
    extra: JSONDict = field(default_factory=dict)

    def to_json(self) -> JSONDict:
        data: JSONDict = {
            "status": self.status,
            "version": self.version,
            "pid": self.pid,
            "uptime_s": round(self.uptime_s, 3),
            "sessions": self.sessions,
            "clients": self.clients,
            "last_event_id": self.last_event_id,
            "components": {name: c.to_json() for name, c in self.components.items()},
        }
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: JSONDict) -> Health:
        components = {
            str(name): ComponentHealth(
                status=cast(ComponentStatus, c.get("status", "failed")),
                detail=str(c.get("detail", "")),
            )
            for name, c in (data.get("components") or {}).items()
            if isinstance(c, dict)
        }
        known = {"status", "version", "pid", "uptime_s", "sessions", "clients"}
        known |= {"last_event_id", "components"}
        return cls(
            status="ok" if data.get("status") == "ok" else "degraded",
            version=str(data.get("version", "")),
            pid=int(data.get("pid", 0)),
            uptime_s=float(data.get("uptime_s", 0.0)),
            sessions=int(data.get("sessions", 0)),
            clients=int(data.get("clients", 0)),
            last_event_id=int(data.get("last_event_id", 0)),
            components=components,
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """`runtime.json` in the state dir: how a client finds the running daemon."""

    pid: int
    port: int
    url: str
    version: str
    started_at: datetime

    def to_json(self) -> JSONDict:
        return {
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "version": self.version,
            "started_at": format_ts(self.started_at),
        }

    @classmethod
    def from_json(cls, data: JSONDict) -> RuntimeInfo:
        return cls(
            pid=int(data["pid"]),
            port=int(data["port"]),
            url=str(data["url"]),
            version=str(data.get("version", "")),
            started_at=parse_ts(data.get("started_at")) or utcnow(),
        )


@dataclass(frozen=True, slots=True)
class InspectResult:
    """What `sessiond inspect FILE --json` prints."""

    agent: Agent
    session_id: str
    status: Status
    reason: str
    since: datetime | None
    pending_tool: PendingTool | None

    def to_json(self) -> JSONDict:
        return {
            "agent": self.agent,
            "session_id": self.session_id,
            "status": self.status,
            "reason": self.reason,
            "since": format_ts(self.since) if self.since else None,
            "pending_tool": self.pending_tool.to_json() if self.pending_tool else None,
        }


# -- the other SSE payloads -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Removed:
    """`event: removed`: the session's transcript is gone."""

    session_id: str

    def to_json(self) -> JSONDict:
        return {"session_id": self.session_id}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """`event: snapshot`: every session (as JSON, already filtered) and the last event id."""

    sessions: list[JSONDict]
    last_event_id: int

    def to_json(self) -> JSONDict:
        return {"sessions": self.sessions, "last_event_id": self.last_event_id}


@dataclass(frozen=True, slots=True)
class Reset:
    """`event: reset`: the id a client resumed from is no longer held; a snapshot follows."""

    last_event_id: int
    requested: int

    def to_json(self) -> JSONDict:
        return {"last_event_id": self.last_event_id, "requested": self.requested}


@dataclass(frozen=True, slots=True)
class Shutdown:
    """`event: shutdown`: the daemon is stopping (the client should reconnect later)."""

    reason: str = "daemon stopping"

    def to_json(self) -> JSONDict:
        return {"reason": self.reason}
