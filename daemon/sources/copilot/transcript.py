"""GitHub Copilot CLI sessions: `$COPILOT_HOME/session-state/<id>/events.jsonl` (older
builds: `session-state/<id>.jsonl`); the root is `$COPILOT_HOME`, else
`$XDG_CONFIG_HOME/copilot`, else `~/.copilot`.

Each line is one session event, `{"type", "data", "id", "timestamp", "parentId"}`, as the
CLI's own schema defines them (github/copilot-sdk `nodejs/src/generated/session-events.ts`,
see docs/agents/copilot.md). Events marked `ephemeral` there (`session.idle`,
`user_input.requested`, deltas) never reach the file, so the rules use what does:

- `user.message`, `assistant.turn_start`, a message with `toolRequests`, a tool running
  (`tool.execution_start` without its `tool.execution_complete`) → working;
- `permission.requested` (not already resolved by a hook) → waiting for approval, exact,
  until its `permission.completed`; `exit_plan_mode.requested` likewise;
- a running `ask_user` tool → waiting for input (the agent asked a question);
- `assistant.turn_end` after a message with no tool requests, `abort`, `session.error`
  → waiting for input; `session.start`/`session.resume` with nothing after → waiting for
  the first prompt; `session.shutdown` → ended.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, MAX_TITLE, Agent, JSONDict, PendingTool, clip, parse_ts, tool_input
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

# Tools the agent uses to ask the user something (its answer is typed, not approved).
_ASKS = frozenset({"ask_user", "askUser", "ask_user_question"})
_MAX_PENDING = 256
_SUMMARY_KEYS = ("command", "fullCommandText", "path", "fileName", "file_path", "url", "query", "pattern",
                 "description", "prompt", "question")


def copilot_home(env: Mapping[str, str], home: Path) -> Path:
    if env.get("COPILOT_HOME", "").strip():
        return agent_root(env, "COPILOT_HOME", home / ".copilot")
    config = env.get("XDG_CONFIG_HOME", "").strip()
    return Path(config).expanduser() / "copilot" if config else home / ".copilot"


def _summary(value: object) -> str:
    if isinstance(value, dict):
        found = next((value[k] for k in _SUMMARY_KEYS if isinstance(value.get(k), str) and value[k]), "")
        return str(found)
    return value if isinstance(value, str) else ""


@dataclass(slots=True)
class _Mark:
    status: str
    line_no: int | None
    at: datetime
    what: str
    tool: PendingTool | None = None


class CopilotState:
    def __init__(self, info: FileInfo) -> None:
        self._meta = SessionMeta(session_id=info.session_id, parent_id=info.parent_id)
        self._last_at: datetime | None = None
        self._mark: _Mark | None = None
        # Tools started and not completed, by toolCallId (in start order).
        self._running: OrderedDict[str, PendingTool] = OrderedDict()
        # Permission requests not completed yet, by requestId.
        self._asking: OrderedDict[str, tuple[_Mark, str | None]] = OrderedDict()
        self._requested_tools = False

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def last_activity(self) -> datetime | None:
        return self._last_at

    def has_basis(self) -> bool:
        return self._mark is not None

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        kind, data = record.get("type"), record.get("data")
        if not isinstance(kind, str) or not isinstance(data, dict):
            return
        if record.get("agentId"):  # a sub-agent's event: its parent's turn goes on
            self._last_at = at
            return
        self._last_at = at
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, data, line_no, at)

    # -- events ----------------------------------------------------------------------

    def _start(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        context = data.get("context")
        if isinstance(context, dict):
            cwd = context.get("cwd")
            if isinstance(cwd, str) and cwd:
                self._meta.cwd = cwd
                self._meta.project = project_name(cwd)
            branch = context.get("branch")
            if isinstance(branch, str):
                self._meta.branch = clip(branch, MAX_TITLE)
        self._running.clear()
        self._asking.clear()
        self._set("waiting_for_input", line_no, at, "session started, no prompt yet")

    def _user(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        text = data.get("content")
        if isinstance(text, str) and text.strip():
            if not self._meta.title:
                self._meta.title = clip(text, MAX_TITLE)
            self._meta.last_prompt = clip(text, MAX_EXCERPT)
        self._requested_tools = False
        self._set("working", line_no, at, "new prompt, the model is working")

    def _turn_start(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        self._requested_tools = False
        self._set("working", line_no, at, "the model is working")

    def _message(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        text = data.get("content")
        if isinstance(text, str) and text.strip():
            self._meta.last_reply = clip(text, MAX_EXCERPT)
        requests = data.get("toolRequests")
        if isinstance(requests, list) and requests:
            self._requested_tools = True
            first = requests[0] if isinstance(requests[0], dict) else {}
            name = str(first.get("name") or "a tool")
            self._set("working", line_no, at, f"the model called {clip(name, 80)}",
                      _tool(name, first.get("arguments")))
        else:
            self._set("working", line_no, at, "the model is writing")

    def _turn_end(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        if self._requested_tools or self._running:
            self._set("working", line_no, at, "turn step done, tools are next")
        else:
            self._set("waiting_for_input", line_no, at, "reply finished (assistant.turn_end)")

    def _tool_start(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        call = data.get("toolCallId")
        name = str(data.get("toolName") or "a tool")
        tool = _tool(name, data.get("arguments"))
        if isinstance(call, str):
            self._running[call] = tool
            while len(self._running) > _MAX_PENDING:
                self._running.popitem(last=False)
        self._set("working", line_no, at, f"{clip(name, 80)} is running", tool)

    def _tool_done(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        call = data.get("toolCallId")
        if isinstance(call, str):
            self._running.pop(call, None)
        self._requested_tools = False
        self._set("working", line_no, at, "tool finished, the model is working")

    def _permission(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        request = data.get("requestId")
        if data.get("resolvedByHook") is True or not isinstance(request, str):
            return
        asked = data.get("permissionRequest")
        asked = asked if isinstance(asked, dict) else {}
        kind = str(asked.get("kind") or "tool")
        tool = PendingTool(clip(_permission_name(kind, asked), MAX_SUMMARY),
                           clip(_summary(asked) or kind, MAX_SUMMARY), input=tool_input(asked))
        mark = _Mark("waiting_for_approval", line_no, at, f"permission requested for {tool.name}", tool)
        self._asking[request] = (mark, asked.get("toolCallId") if isinstance(asked.get("toolCallId"), str)
                                 else None)
        while len(self._asking) > _MAX_PENDING:
            self._asking.popitem(last=False)

    def _permission_done(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        request = data.get("requestId")
        if isinstance(request, str) and self._asking.pop(request, None) is not None:
            self._set("working", line_no, at, "permission answered, the tool goes on")

    def _plan(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        request = data.get("requestId")
        key = request if isinstance(request, str) else f"plan-{line_no}"
        mark = _Mark("waiting_for_approval", line_no, at, "the plan waits for approval",
                     PendingTool("exit_plan_mode", "plan"))
        self._asking[key] = (mark, None)

    def _abort(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        self._running.clear()
        self._asking.clear()
        self._requested_tools = False
        self._set("waiting_for_input", line_no, at, "interrupted by the user (abort)")

    def _error(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        self._running.clear()
        self._asking.clear()
        self._requested_tools = False
        message = clip(str(data.get("message") or data.get("errorType") or "error"), 120)
        self._set("waiting_for_input", line_no, at, f"the turn failed ({message})")

    def _shutdown(self, data: JSONDict, line_no: int | None, at: datetime) -> None:
        self._running.clear()
        self._asking.clear()
        self._set("ended", line_no, at, "the session ended (session.shutdown)")

    def _set(self, status: str, line_no: int | None, at: datetime, what: str,
             tool: PendingTool | None = None) -> None:
        self._mark = _Mark(status, line_no, at, what, tool)

    # -- deciding -----------------------------------------------------------------------

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        mark = self._mark
        if mark is None:
            return Verdict("waiting_for_input", "no event yet", self._last_at)
        if mark.status == "ended":
            return Verdict("ended", f"{line_ref(mark.line_no)}: {mark.what}", mark.at)
        if self._asking:
            asked, _ = next(reversed(self._asking.values()))
            return Verdict("waiting_for_approval", f"{line_ref(asked.line_no)}: {asked.what}", asked.at,
                           asked.tool)
        for tool in self._running.values():
            if tool.name in _ASKS:
                asks = f"{line_ref(mark.line_no)}: the agent asks: {tool.summary}"
                return Verdict("waiting_for_input", asks, mark.at, tool)
        status = "waiting_for_input" if mark.status == "waiting_for_input" else "working"
        return Verdict(status, f"{line_ref(mark.line_no)}: {mark.what}", mark.at,  # type: ignore[arg-type]
                       mark.tool if status == "working" else None)


def _permission_name(kind: str, asked: Mapping[str, Any]) -> str:
    if kind == "shell":
        return "shell"
    if kind == "mcp":
        return str(asked.get("toolName") or asked.get("serverName") or "mcp")
    return kind


def _tool(name: str, arguments: object) -> PendingTool:
    return PendingTool(clip(name, MAX_SUMMARY), clip(_summary(arguments) or name, MAX_SUMMARY),
                       input=tool_input(arguments))


_HANDLERS: dict[str, Any] = {
    "session.start": CopilotState._start,
    "session.resume": CopilotState._start,
    "user.message": CopilotState._user,
    "assistant.turn_start": CopilotState._turn_start,
    "assistant.message": CopilotState._message,
    "assistant.turn_end": CopilotState._turn_end,
    "tool.execution_start": CopilotState._tool_start,
    "tool.execution_complete": CopilotState._tool_done,
    "permission.requested": CopilotState._permission,
    "permission.completed": CopilotState._permission_done,
    "exit_plan_mode.requested": CopilotState._plan,
    "exit_plan_mode.completed": CopilotState._permission_done,
    "abort": CopilotState._abort,
    "session.error": CopilotState._error,
    "session.shutdown": CopilotState._shutdown,
}


class CopilotSource:
    agent: Agent = "copilot"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [copilot_home(env, home) / "session-state"]

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        parts = parts_under(path, root)
        if parts is None:
            return None
        if len(parts) == 2 and parts[1] == "events.jsonl":
            return FileInfo("copilot", parts[0])
        if len(parts) == 1 and path.suffix == ".jsonl":
            return FileInfo("copilot", path.stem)
        return None

    def new_state(self, info: FileInfo) -> CopilotState:
        return CopilotState(info)

    def record_time(self, record: JSONDict) -> datetime | None:
        return parse_ts(record.get("timestamp"))

    def recognises(self, record: JSONDict) -> bool:
        """`{"type": "user.message", "data": {...}, "id", "parentId"}`: dotted event types
        (and `abort`), a data object, an event id."""
        kind = record.get("type")
        if not isinstance(kind, str) or not isinstance(record.get("data"), dict):
            return False
        return ("." in kind or kind == "abort") and ("id" in record or "parentId" in record)
