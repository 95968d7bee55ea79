"""OpenCode sessions, read from the mirror log sessiond keeps of them (see `records.py`).

The rules, from OpenCode's own message and part types (packages/opencode/src/session/
message-v2.ts) and what opencode 1.18.33 was seen writing (docs/agents/opencode.md):

- the newest message is the user's → working (the prompt was just sent);
- the newest is the assistant's and not completed → working; a `question` tool running
  means it asked the user (waiting for input); a tool that can ask permission (bash,
  edit, write, patch…) running for `approval_after` without having started (its part gets
  `metadata` the moment the command starts; until then OpenCode is asking) → waiting
  for approval, inferred (the plugin, `sessiond hooks install --agent opencode`, makes it
  exact);
- the newest assistant message completed with `finish` "tool-calls" → working (the tool
  results go back to the model at once); with any other finish → waiting for input;
- an assistant error: `MessageAbortedError` → waiting for input (interrupted), any other →
  waiting for input (the turn failed);
- the session archived → ended.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, MAX_TITLE, Agent, JSONDict, PendingTool, clip, tool_input
from sessiond.sources.base import (
    MAX_EXCERPT,
    FileInfo,
    SessionMeta,
    Thresholds,
    Verdict,
    line_ref,
    parts_under,
    project_name,
)
from sessiond.sources.plugin import agent_root

# Tools whose permission OpenCode asks for (its `permission` config: bash, edit — which
# covers write and patch —, external_directory) and that start at once once allowed.
PROMPTING_TOOLS = frozenset({"bash", "edit", "write", "patch", "apply_patch", "multiedit"})
# The tool OpenCode's agent asks the user a question with.
QUESTION_TOOLS = frozenset({"question"})
# How OpenCode words a tool call the user refused ("The user rejected permission to use
# this specific tool call…", seen from opencode 1.18.33): after one, it ends the turn.
REFUSALS = ("rejected permission",)
# Messages and parts remembered per session: a long session's old ones no longer matter.
_MAX_KEPT = 512
_SUMMARY_KEYS = ("command", "filePath", "file_path", "path", "url", "pattern", "query", "description",
                 "question")


def opencode_data_dir(env: Mapping[str, str], home: Path) -> Path:
    """`$OPENCODE_DATA_DIR`, else `$XDG_DATA_HOME/opencode`, else `~/.local/share/opencode`."""
    if env.get("OPENCODE_DATA_DIR", "").strip():
        return agent_root(env, "OPENCODE_DATA_DIR", home)
    data = env.get("XDG_DATA_HOME", "").strip()
    return (Path(data).expanduser() if data else home / ".local" / "share") / "opencode"


def mirror_root(state_dir: Path) -> Path:
    """Where sessiond keeps its log of each OpenCode session (one JSONL file per session;
    a subagent's under `<parent>/subagents/`)."""
    return state_dir / "mirror" / "opencode"


def at_time(ms: object) -> datetime | None:
    if not isinstance(ms, int | float) or isinstance(ms, bool) or not 0 < ms < 4e12:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(slots=True)
class _Message:
    role: str
    line_no: int | None
    at: datetime
    completed: bool = False
    finish: str = ""
    error: str = ""
    error_message: str = ""


@dataclass(slots=True)
class _Tool:
    tool: PendingTool
    status: str
    started: bool
    line_no: int | None
    at: datetime  # when this status was first seen
    refused: bool = False  # the user said no to it (OpenCode then stops the turn)


@dataclass(slots=True)
class _Seen:
    messages: OrderedDict[str, _Message] = field(default_factory=OrderedDict)
    # Tool parts by part id, with the message they belong to.
    tools: OrderedDict[str, tuple[str, _Tool]] = field(default_factory=OrderedDict)


class OpenCodeState:
    def __init__(self, info: FileInfo) -> None:
        self._meta = SessionMeta(session_id=info.session_id, parent_id=info.parent_id)
        self._last_at: datetime | None = None
        self._seen = _Seen()
        self._archived: tuple[int | None, datetime] | None = None
        self._created: tuple[int | None, datetime] | None = None

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def last_activity(self) -> datetime | None:
        return self._last_at

    def has_basis(self) -> bool:
        return self._created is not None or bool(self._seen.messages)

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        kind = record.get("type")
        body = record.get(kind) if isinstance(kind, str) else None
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return
        self._last_at = at
        if kind == "session":
            self._session(body, line_no, at)
        elif kind == "message":
            self._message(body, line_no, at)
        elif kind == "part":
            self._part(body, line_no, at)

    def _session(self, body: JSONDict, line_no: int | None, at: datetime) -> None:
        directory = body.get("directory")
        if isinstance(directory, str) and directory:
            self._meta.cwd = directory
            self._meta.project = project_name(directory)
        title = body.get("title")
        # OpenCode names a session "New session - <time>" until its title is generated.
        if isinstance(title, str) and title and not title.startswith("New session - "):
            self._meta.title = clip(title, MAX_TITLE)
        parent = body.get("parentID")
        if isinstance(parent, str) and parent and self._meta.parent_id is None:
            self._meta.parent_id = parent
        if self._created is None:
            self._created = (line_no, at)
        times = body.get("time")
        archived = times.get("archived") if isinstance(times, dict) else None
        self._archived = (line_no, at_time(archived) or at) if archived else None

    def _message(self, body: JSONDict, line_no: int | None, at: datetime) -> None:
        ident = str(body["id"])
        old = self._seen.messages.get(ident)
        role = str(body.get("role") or (old.role if old else ""))
        raw_times = body.get("time")
        times: JSONDict = raw_times if isinstance(raw_times, dict) else {}
        message = _Message(role, line_no, at, completed="completed" in times,
                           finish=str(body.get("finish") or ""))
        error = body.get("error")
        if isinstance(error, dict):
            message.error = str(error.get("name") or "error")
            message.error_message = str(error.get("message") or "")
        if old is not None and old.role == message.role and _same(old, message):
            return  # nothing the rules read changed: keep when it began
        self._seen.messages[ident] = message
        _bound(self._seen.messages)

    def _part(self, body: JSONDict, line_no: int | None, at: datetime) -> None:
        message_id = str(body.get("messageID") or "")
        kind = body.get("type")
        if kind == "text":
            text = body.get("text")
            owner = self._seen.messages.get(message_id)
            if isinstance(text, str) and text.strip() and body.get("synthetic") is not True:
                if owner is not None and owner.role == "user":
                    if not self._meta.title:
                        self._meta.title = clip(text, MAX_TITLE)
                    self._meta.last_prompt = clip(text, MAX_EXCERPT)
                elif owner is not None:
                    self._meta.last_reply = clip(text, MAX_EXCERPT)
            return
        if kind != "tool":
            return
        raw_state = body.get("state")
        state: JSONDict = raw_state if isinstance(raw_state, dict) else {}
        status = str(state.get("status") or "")
        name = str(body.get("tool") or "tool")
        pending = _pending(name, state.get("input"))
        ident = str(body["id"])
        old = self._seen.tools.get(ident)
        started = state.get("started") is True
        if old is not None and old[1].status == status and old[1].started == started:
            old[1].tool = pending
            return
        error = state.get("error")
        refused = status == "error" and isinstance(error, str) and any(m in error for m in REFUSALS)
        self._seen.tools[ident] = (message_id, _Tool(pending, status, started, line_no, at, refused))
        _bound(self._seen.tools)

    # -- deciding -----------------------------------------------------------------------

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        if self._archived is not None:
            line_no, at = self._archived
            return Verdict("ended", f"{line_ref(line_no)}: the session was archived", at)
        if not self._seen.messages:
            line_no, created = self._created or (None, self._last_at)
            reason = f"{line_ref(line_no)}: session created, no prompt yet"
            return Verdict("waiting_for_input", reason, created)
        ident = max(self._seen.messages)  # OpenCode's ids sort by creation time
        message = self._seen.messages[ident]
        where = line_ref(message.line_no)
        if message.role == "user":
            return Verdict("working", f"{where}: prompt sent, the model is working", message.at)
        if message.error:
            if message.error == "MessageAbortedError":
                return Verdict("waiting_for_input", f"{where}: interrupted by the user", message.at)
            why = clip(f"{message.error}: {message.error_message}".rstrip(": "), 160)
            return Verdict("waiting_for_input", f"{where}: the turn failed ({why})", message.at)
        tools = [t for owner, t in self._seen.tools.values() if owner == ident and t.status in
                 ("pending", "running")]
        if message.completed:
            refused = [t for owner, t in self._seen.tools.values() if owner == ident and t.refused]
            if refused:
                last = refused[-1]
                why = f"{line_ref(last.line_no)}: {last.tool.name} was refused; OpenCode stopped the turn"
                return Verdict("waiting_for_input", why, message.at)
            if message.finish == "tool-calls" or tools:
                return Verdict("working", f"{where}: step done, the tools' results go back to the model",
                               message.at)
            finish = f" (finish: {message.finish})" if message.finish else ""
            return Verdict("waiting_for_input", f"{where}: reply finished{finish}", message.at)
        for tool in tools:
            if tool.tool.name in QUESTION_TOOLS and tool.status == "running":
                return Verdict("waiting_for_input", f"{line_ref(tool.line_no)}: the agent asks: "
                               f"{tool.tool.summary}", tool.at, tool.tool)
        for tool in tools:
            if tool.tool.name in PROMPTING_TOOLS and tool.status == "running" and not tool.started:
                waited = now - tool.at
                if limits.infer_approval and waited >= limits.approval_after:
                    return Verdict("waiting_for_approval",
                                   f"{line_ref(tool.line_no)}: {tool.tool.name} has not started after "
                                   f"{_seconds(waited)}: OpenCode is asking (inferred)",
                                   tool.at, tool.tool)
                return Verdict("working", f"{line_ref(tool.line_no)}: {tool.tool.name} about to run",
                               tool.at, tool.tool,
                               recheck_at=tool.at + limits.approval_after if limits.infer_approval else None)
        if tools:
            tool = tools[-1]
            return Verdict("working", f"{line_ref(tool.line_no)}: {tool.tool.name} is running", tool.at,
                           tool.tool)
        return Verdict("working", f"{where}: the model is writing", message.at)


def _same(a: _Message, b: _Message) -> bool:
    return (a.completed, a.finish, a.error) == (b.completed, b.finish, b.error)


def _bound(items: OrderedDict[str, Any]) -> None:
    while len(items) > _MAX_KEPT:
        items.popitem(last=False)


def _seconds(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"


def _pending(name: str, arguments: object) -> PendingTool:
    summary = ""
    if isinstance(arguments, dict):
        found = next((arguments[k] for k in _SUMMARY_KEYS if isinstance(arguments.get(k), str)
                      and arguments[k]), "")
        summary = str(found)
    return PendingTool(clip(name, MAX_SUMMARY), clip(summary or name, MAX_SUMMARY),
                       input=tool_input(arguments))


class OpenCodeSource:
    """The engine follows the mirror's logs; OpenCode's own storage is read by `sessiond.mirror.opencode`."""

    agent: Agent = "opencode"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return []  # the mirror lives in the state dir: see `mirror_root`

    def mirror_root(self, state_dir: Path) -> Path:
        return mirror_root(state_dir)

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        parts = parts_under(path, root)
        if parts is None or path.suffix != ".jsonl":
            return None
        if len(parts) == 1:
            return FileInfo("opencode", path.stem)
        if len(parts) == 3 and parts[1] == "subagents":
            return FileInfo("opencode", path.stem, role="subagent", parent_id=parts[0])
        return None

    def new_state(self, info: FileInfo) -> OpenCodeState:
        return OpenCodeState(info)

    def record_time(self, record: JSONDict) -> datetime | None:
        return at_time(record.get("at"))

    def recognises(self, record: JSONDict) -> bool:
        """A mirror record: `{"type": "part", "at": ms, "part": {...}}`."""
        kind = record.get("type")
        return kind in ("session", "message", "part") and isinstance(record.get(kind), dict) \
            and "at" in record
