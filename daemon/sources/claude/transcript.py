"""Claude Code transcripts: where they live, and what status a transcript says it is in.

The rules are shared/docs/agent-formats.md §1.6–1.7. A corpus citation such as
"9b-04c3d92e38-1 L172" names a line of ../shared/corpus/claude/*<that id>*.jsonl.

The state keeps only what the rules need: the last meaningful line, the tool calls still
waiting for a result (with their progress), the permission mode, a queue counter and a
bounded window of recent uuids. It never holds the conversation itself.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sessiond.protocol import (
    MAX_SUMMARY,
    MAX_TITLE,
    Agent,
    JSONDict,
    PendingTool,
    clip,
    duration_text,
    parse_ts,
    tool_input,
)
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
from sessiond.sources.claude.wording import Intent, intent
from sessiond.sources.plugin import agent_root, parse_version

# Metadata lines that carry no turn state (§1.2: they often trail the real last event).
_BOOKKEEPING = frozenset(
    {"file-history-snapshot", "summary", "custom-title", "agent-name", "last-prompt",
     "permission-mode", "mode", "attachment", "pr-link", "tag", "queue-operation"}
)  # fmt: skip
# Tools that show a permission prompt in `default` mode (code.claude.com tools reference).
# Unknown tools are assumed not to prompt: a wrong "working" costs less than a false alarm.
# Skill is not here (agent-formats.md §1.6; its results come within 3 s: 71-69f9710768
# L125–126), although the current tools reference marks it as asking.
_PROMPTING = frozenset(
    {"Bash", "PowerShell", "Edit", "Write", "MultiEdit", "NotebookEdit", "WebFetch",
     "WebSearch", "ExitPlanMode", "SlashCommand", "Artifact"}
)  # fmt: skip
_EDITS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})  # no prompt in acceptEdits
_SUBAGENTS = frozenset({"Task", "Agent"})
# Modes that never show a prompt: bypass skips checks, dontAsk denies, auto lets a
# classifier decide (only ExitPlanMode still asks, see `_can_prompt`).
_SILENT_MODES = frozenset({"bypassPermissions", "dontAsk", "auto"})
# Tools that can legitimately run for many seconds. Only Bash reports progress
# (`bash_progress` from ~+2 s, 9b-04c3d92e38-1 L160–163), and only in 2.1.12–2.1.81; for
# the others, and for Bash in other versions, silence proves little, so the approval
# guess waits SLOW_TOOL_FACTOR times longer (§1.6: "use a longer per-tool threshold").
_SLOW = frozenset({"Bash", "PowerShell", "WebFetch", "WebSearch"})
_PROGRESS_BASH = frozenset({"Bash", "PowerShell"})
SLOW_TOOL_FACTOR = 4
# How long a null-stop_reason text may stand alone in a file whose turns end with a
# Stop-hook line before it counts as the end of the turn anyway (see `_settle`).
MARKED_SETTLE = timedelta(seconds=60)
# How long a text that introduces a tool call ("Now let me write the tests:") may stand
# alone before it counts as the end of the turn anyway, and how soon one that hands the
# turn over ("Shall I open the pull request?") does (see `wording.intent`).
PREAMBLE_SETTLE = timedelta(seconds=90)
# An edit whose message is known complete and still has no result after this is
# waiting for approval; calls of a message that may still be streaming wait this many
# times longer than `approval_after`.
QUICK_APPROVAL = timedelta(seconds=1.5)
STREAMING_FACTOR = 3
CONCLUSION_SETTLE = timedelta(seconds=3)
_PROGRESS_VERSIONS = ((2, 1, 12), (2, 1, 82))  # [first, last+1) with bash_progress (§1.4)
# progress `data.type`s that prove a tool is executing (keyed by parentToolUseID).
_EVIDENCE = frozenset(
    {"bash_progress", "agent_progress", "mcp_progress", "query_update",
     "search_results_received", "waiting_for_task"}
)  # fmt: skip
_EXIT_COMMANDS = frozenset({"/exit", "/quit"})
# Context blocks the IDE adds in front of a typed prompt (c9-883595c929 L3).
_CONTEXT_PREFIXES = ("<ide_opened_file>", "<ide_selection>", "<system-reminder>", "<ide_")
_LOCAL_OUTPUT = ("<local-command-stdout>", "<local-command-stderr>", "<bash-stdout>",
                 "<bash-stderr>", "<user-memory-input>")  # fmt: skip
_COMMAND_NAME = re.compile(r"<command-name>\s*(.*?)\s*</command-name>", re.S)
_COMMAND_ARGS = re.compile(r"<command-args>\s*(.*?)\s*</command-args>", re.S)
# Which input field describes a pending tool best (`PendingTool.summary`).
_SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "Bash": ("command",), "PowerShell": ("command",), "Read": ("file_path",),
    "Edit": ("file_path",), "Write": ("file_path",), "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path", "file_path"), "WebFetch": ("url",), "WebSearch": ("query",),
    "Task": ("description", "prompt"), "Agent": ("description", "prompt"),
    "Glob": ("pattern",), "Grep": ("pattern",), "Skill": ("skill",),
}  # fmt: skip
_MAX_PENDING = 64
_MAX_UUIDS = 2048
_STOP_HOOK = "Stop hook ran, the turn is over"

Kind = Literal[
    "prompt", "tool_result", "notification", "interrupt", "blocked", "command",
    "local_output", "exit", "thinking", "text", "tool_use", "api_error_message",
    "api_retry", "turn_end", "compacting", "compact_summary", "started",
]  # fmt: skip
# Kinds after which the turn is over whatever else is known.
_TERMINAL: dict[str, str] = {
    "interrupt": "the user interrupted the turn",
    "blocked": "a hook stopped the prompt",
    "api_error_message": "the turn ended with an API error",
    "local_output": "a local command finished",
    "turn_end": "the turn is over",
    "started": "the session started, no prompt yet",
}
_WORKING: dict[str, str] = {
    "prompt": "new prompt, the model is working",
    "tool_result": "tool result sent back, the model is working",
    "notification": "a background task finished, the model is working",
    "api_retry": "API error, retrying",
    "compacting": "compacting the conversation",
    "thinking": "the model is thinking",
    "tool_use": "tools running",
}


@dataclass(slots=True)
class _Event:
    """The last meaningful main-chain line."""

    kind: Kind
    line_no: int | None
    at: datetime
    detail: str = ""  # command name, stop_reason, hook name...
    # For a text: what its last words say of the turn (`wording.intent`).
    intent: Intent = "neutral"


@dataclass(slots=True)
class _Tool:
    """A tool_use still waiting for its tool_result."""

    id: str
    name: str
    summary: str
    message_id: str
    line_no: int | None
    at: datetime
    # When its approval clock starts: the tool_use, or later when an earlier tool of the
    # same call finished or its PreToolUse hook ran (tools run one after another:
    # subagent L81's PreToolUse only comes after L82, the result of L77).
    start: datetime
    progress_at: datetime | None = None
    # The full input (bounded: protocol.tool_input), for the panel's detail view.
    input: JSONDict | None = None
    # Its message is known to be complete (a non-null stop_reason, its PreToolUse hook):
    # no more calls are streaming into it, so it can be on screen as a prompt.
    complete: bool = False


class ClaudeSource:
    agent: Agent = "claude"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [claude_home(env, home) / "projects"]

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        parts = parts_under(path, root)
        if parts is None:
            return None
        name = path.name
        if not name.endswith(".jsonl") or name == "journal.jsonl":
            return None
        stem = name[: -len(".jsonl")]
        if len(parts) == 2:  # <enc>/<sid>.jsonl, or a 2.0.x <enc>/agent-<aid>.jsonl
            if stem.startswith("agent-"):
                return FileInfo("claude", stem, role="subagent")
            return FileInfo("claude", stem)
        if len(parts) < 4 or parts[2] != "subagents" or not stem.startswith("agent-"):
            return None
        sid = parts[1]
        if len(parts) == 4:  # <enc>/<sid>/subagents/agent-<aid>.jsonl
            role: Literal["subagent", "compaction"] = (
                "compaction" if stem.startswith("agent-acompact-") else "subagent"
            )
            return FileInfo("claude", stem, role=role, parent_id=sid)
        if len(parts) == 6 and parts[3] == "workflows":  # .../subagents/workflows/<wf>/
            return FileInfo("claude", stem, role="subagent", parent_id=sid)
        return None

    def new_state(self, info: FileInfo) -> ClaudeState:
        return ClaudeState(info)

    def record_time(self, record: JSONDict) -> datetime | None:
        return parse_ts(record.get("timestamp"))

    def recognises(self, record: JSONDict) -> bool:
        kind = record.get("type")
        if kind in ("user", "assistant", "system", "progress", "attachment"):
            return "uuid" in record and ("parentUuid" in record or "sessionId" in record)
        if kind == "file-history-snapshot":
            return "snapshot" in record
        if kind == "summary":
            return "leafUuid" in record
        if kind == "queue-operation":
            return "operation" in record
        return isinstance(kind, str) and kind in _BOOKKEEPING and "sessionId" in record


class ClaudeState:
    """Accumulates one Claude Code transcript (session, subagent or compaction file)."""

    def __init__(self, info: FileInfo) -> None:
        self._info = info
        # A subagent/compaction file is told by its path, or (offline, 2.0.x) by its
        # lines: isSidechain + agentId on every line (spotter agent-aac57f5). None: not
        # known yet. Inline 1.0.x sidechain lines carry no agentId (5c0375b4 L16).
        self._sidechain: bool | None = True if info.role != "session" else None
        self._meta = SessionMeta(parent_id=info.parent_id)
        if info.role != "session":
            self._meta.session_id = info.session_id
        self._last_activity: datetime | None = None
        self._event: _Event | None = None
        self._pending: OrderedDict[str, _Tool] = OrderedDict()
        self._mode = "default"
        self._version: tuple[int, ...] | None = None
        self._saw_bash_progress = False
        self._queued = 0
        self._compact_trigger = ""
        self._stop_marked = False  # this file's turns end with Stop-hook lines
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._titles: dict[str, str] = {}  # custom / summary / prompt / command

    # -- TranscriptState ------------------------------------------------------------

    @property
    def meta(self) -> SessionMeta:
        for key in ("custom", "summary", "prompt", "command"):
            if self._titles.get(key):
                self._meta.title = self._titles[key]
                break
        return self._meta

    @property
    def last_activity(self) -> datetime | None:
        return self._last_activity

    def has_basis(self) -> bool:
        return self._event is not None

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        # The last record's time, not the largest: offline, a first line without a
        # timestamp is fed at the file's mtime (inspect.feed_file), which must not stick.
        self._last_activity = at
        uuid = record.get("uuid")
        if isinstance(uuid, str) and uuid:
            # A resume re-writes the last assistant entry with the same uuid (37-995 L131).
            if uuid in self._seen:
                return
            self._remember(uuid)
        kind = record.get("type")
        if not isinstance(kind, str):
            return
        if kind in ("user", "assistant") and self._sidechain is None:
            self._sidechain = record.get("isSidechain") is True and bool(record.get("agentId"))
        self._note_meta(record, kind)
        if record.get("isSidechain") is True and self._sidechain is False:
            return  # 1.0.x inline subagent lines never decide the main status
        if kind == "user":
            self._user(record, line_no, at)
        elif kind == "assistant":
            self._assistant(record, line_no, at)
        elif kind == "system":
            self._system(record, line_no, at)
        elif kind == "progress":
            self._progress(record, line_no, at)
        elif kind == "attachment":
            # ≥2.1.1xx writes hooks as attachments instead of hook_progress (§1.4).
            att = _dict(record.get("attachment"))
            if att.get("hookEvent") == "Stop":
                self._end_turn(line_no, at, _STOP_HOOK)
        elif kind == "queue-operation":
            self._queue(record)

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        ev = self._event
        if ev is None:
            return Verdict("waiting_for_input", "no conversation yet", since=self._last_activity)
        v = self._decide(ev, now, limits)
        if self._sidechain and v.status == "waiting_for_input":
            # A subagent that finished its reply is done; it never waits for the user.
            return Verdict("ended", f"{line_ref(ev.line_no)}: the subagent finished", v.since)
        return v

    # -- feeding ----------------------------------------------------------------------

    def _remember(self, uuid: str) -> None:
        if len(self._seen_order) >= _MAX_UUIDS:
            self._seen.discard(self._seen_order.popleft())
        self._seen_order.append(uuid)
        self._seen.add(uuid)

    def _note_meta(self, record: JSONDict, kind: str) -> None:
        if kind == "custom-title":
            title = record.get("customTitle") or record.get("title")
            if isinstance(title, str) and title.strip():
                self._titles["custom"] = clip(title, MAX_TITLE)
        elif kind == "summary" and isinstance(record.get("summary"), str):
            self._titles["summary"] = clip(record["summary"], MAX_TITLE)
        elif kind == "permission-mode":
            self._set_mode(record.get("permissionMode"))
        sid = record.get("sessionId")
        if isinstance(sid, str) and sid:
            if self._sidechain:
                # Subagent lines carry the parent's sessionId (2.0.x: the only link).
                self._meta.parent_id = self._info.parent_id or sid
            elif kind in ("user", "assistant", "system", "progress", "attachment"):
                self._meta.session_id = sid
        cwd = record.get("cwd")
        if isinstance(cwd, str) and cwd and cwd != self._meta.cwd:
            self._meta.cwd, self._meta.project = cwd, project_name(cwd)
        branch = record.get("gitBranch")
        if isinstance(branch, str) and branch:
            self._meta.branch = branch
        version = record.get("version")
        if isinstance(version, str):
            self._version = parse_version(version)
        agent_id = record.get("agentId")
        if self._sidechain and self._info.role == "session" and isinstance(agent_id, str):
            self._meta.session_id = f"agent-{agent_id}"  # told by content only (offline)

    def _set_mode(self, mode: object) -> None:
        if isinstance(mode, str) and mode:
            self._mode = mode

    def _set(self, kind: Kind, line_no: int | None, at: datetime, detail: str = "") -> None:
        self._event = _Event(kind, line_no, at, detail)

    def _end_turn(self, line_no: int | None, at: datetime, what: str, stop_hook: bool = True) -> None:
        self._pending.clear()
        self._stop_marked = self._stop_marked or stop_hook
        self._set("turn_end", line_no, at, what)

    def _user(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        self._set_mode(record.get("permissionMode"))
        if record.get("isCompactSummary") is True:
            # a6-e4c2a0fbd1 L31–32: boundary, then the summary; the session goes on.
            self._pending.clear()
            self._set("compact_summary", line_no, at, self._compact_trigger)
            return
        content = _dict(record.get("message")).get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        texts, results = [], []
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                results.append(str(block.get("tool_use_id", "")))
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                texts.append(block["text"].strip())
            elif isinstance(block, dict) and block.get("type") == "image":
                texts.append("[image]")
        if record.get("isMeta") is True:
            # Injected text. After a prompt-type slash command it is the command's
            # expanded prompt, so the model works next (subagent L4–5, 1af7fc5e L1–2).
            ev = self._event
            if ev is not None and ev.kind == "command" and ev.line_no != line_no:
                self._set("prompt", line_no, at)
            return
        for tool_id in results:
            self._resolve(tool_id, at)
        main = [t for t in texts if t and not t.startswith(_CONTEXT_PREFIXES)] or texts
        first = main[0] if main else ""
        if first.startswith("[Request interrupted by user"):
            self._pending.clear()
            self._queued = 0
            self._set("interrupt", line_no, at)
        elif results:
            self._set("tool_result", line_no, at)
        elif first:
            self._user_text(first, line_no, at)

    def _user_text(self, text: str, line_no: int | None, at: datetime) -> None:
        if text.startswith(("<local-command-caveat>", "Caveat: The messages below")):
            return
        if text.startswith("<task-notification>"):  # a background task ended (§1.6 (5))
            self._set("notification", line_no, at)
        elif text.startswith("Operation stopped by hook"):  # 00-c9e2351016-3 L6
            self._set("blocked", line_no, at)
        elif text.startswith(_LOCAL_OUTPUT):
            self._local_output(line_no, at)
        elif text.startswith("<command-") or text.startswith("<bash-input>"):
            match = _COMMAND_NAME.search(text)
            self._command(match.group(1) if match else "!", text, line_no, at)
        else:
            self._pending.clear()
            self._queued = 0
            self._titles.setdefault("prompt", clip(text, MAX_TITLE))
            self._meta.last_prompt = clip(text, MAX_EXCERPT)
            self._set("prompt", line_no, at)

    def _command(self, name: str, text: str, line_no: int | None, at: datetime) -> None:
        self._queued = 0
        if name in _EXIT_COMMANDS:  # c6-39a44ea03d L21–22
            self._set("exit", line_no, at, name)
            return
        # Local commands echo `<local-command-stdout>` next; prompt commands expand into
        # an isMeta prompt. Until one of them arrives, wait and see (settle_after).
        args = _COMMAND_ARGS.search(text)
        title = f"{name} {args.group(1)}" if args else name
        self._titles.setdefault("command", clip(title, MAX_TITLE))
        self._set("command", line_no, at, name)

    def _local_output(self, line_no: int | None, at: datetime) -> None:
        self._queued = 0
        if self._event is not None and self._event.kind == "exit":
            return  # "Goodbye!" after /exit keeps the session ended
        self._set("local_output", line_no, at)

    def _resolve(self, tool_id: str, at: datetime) -> None:
        done = self._pending.pop(tool_id, None)
        if done is None:
            return
        for tool in self._pending.values():  # the next tool in line starts now
            tool.start = max(tool.start, at)
            if tool.message_id == done.message_id:
                tool.complete = True  # a call ran: its whole message had arrived

    def _assistant(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        message = _dict(record.get("message"))
        if record.get("isApiErrorMessage") is True:  # synthetic "API Error: …" (§1.5)
            self._pending.clear()
            self._set("api_error_message", line_no, at)
            return
        mid = str(message.get("id") or "")
        if mid and any(t.message_id != mid for t in self._pending.values()):
            # A new API call means every earlier tool_use already has its result.
            for tool_id in [k for k, t in self._pending.items() if t.message_id != mid]:
                del self._pending[tool_id]
        stop = message.get("stop_reason")
        stop_reason = stop if isinstance(stop, str) else ""
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        last: Kind | None = None
        said_last = ""
        for block in blocks:
            btype = block.get("type") if isinstance(block, dict) else None
            if btype == "tool_use":
                self._add_tool(block, mid, line_no, at)
                last = "tool_use"
            elif btype in ("thinking", "redacted_thinking"):
                last = "thinking"
            elif btype == "text":
                last = "text"
                said = block.get("text")
                if isinstance(said, str) and said.strip():
                    self._meta.last_reply = clip(said, MAX_EXCERPT)
                    said_last = said
        if stop_reason and mid:
            for tool in self._pending.values():
                if tool.message_id == mid:
                    tool.complete = True
        if last is not None:
            self._set(last, line_no, at, stop_reason)
            if last == "text" and self._event is not None:
                self._event.intent = intent(said_last)

    def _add_tool(self, block: JSONDict, mid: str, line_no: int | None, at: datetime) -> None:
        tool_id = str(block.get("id") or f"line-{line_no}")
        name = str(block.get("name") or "?")
        raw = block.get("input")
        tool = _Tool(tool_id, name, summarize_tool(name, raw), mid, line_no, at, at, input=tool_input(raw))
        self._pending[tool_id] = tool
        while len(self._pending) > _MAX_PENDING:
            self._pending.popitem(last=False)

    def _system(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        subtype = record.get("subtype")
        if subtype == "api_error":  # retryInMs/retryAttempt: still working
            self._set("api_retry", line_no, at)
        elif subtype in ("stop_hook_summary", "turn_duration"):
            # turn_duration is written only for turns of ≥30 s (§1.4): no Stop-hook mark.
            what = f"the turn is over ({subtype})"
            self._end_turn(line_no, at, what, stop_hook=subtype == "stop_hook_summary")
        elif subtype == "compact_boundary":
            trigger = _dict(record.get("compactMetadata")).get("trigger")
            self._compact_trigger = trigger if isinstance(trigger, str) else ""
            self._pending.clear()
            self._set("compacting", line_no, at)
        elif subtype == "local_command":  # short L14–15: always a local command echo
            text = record.get("content")
            match = _COMMAND_NAME.search(text) if isinstance(text, str) else None
            if match and match.group(1) in _EXIT_COMMANDS:
                self._set("exit", line_no, at, match.group(1))
            else:
                self._local_output(line_no, at)
        # microcompact_boundary, bridge_status, informational...: no state change

    def _progress(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        data = _dict(record.get("data"))
        dtype = data.get("type")
        tool = self._pending.get(str(record.get("parentToolUseID") or "")) or self._pending.get(
            str(record.get("toolUseID") or "")
        )
        if dtype == "hook_progress":
            hook = data.get("hookEvent")
            if hook == "Stop" or (hook == "SubagentStop" and self._sidechain):
                # Stop hooks run only once the turn is over, even before its final text
                # is flushed (00-c9e2351016-3 L50–51).
                self._end_turn(line_no, at, _STOP_HOOK)
            elif hook == "SessionStart" and data.get("hookName") != "SessionStart:compact":
                # startup / resume / clear: a new process waits for its first prompt
                # (37-995 L132: a resume hours after L128's reply).
                if self._event is None or self._event.kind != "started":
                    self._pending.clear()
                    self._set("started", line_no, at)
            elif hook == "PreToolUse" and tool is not None:
                # PreToolUse runs before the permission check, so it is no proof of
                # execution (subagent L73–76: hook at +0 s, result at +25 s).
                tool.start = max(tool.start, at)
                # ...but it runs only once the whole message has streamed.
                for other in self._pending.values():
                    if other.message_id == tool.message_id:
                        other.complete = True
            elif hook in ("PostToolUse", "PostToolUseFailure") and tool is not None:
                tool.progress_at = at
        elif isinstance(dtype, str) and dtype in _EVIDENCE:
            if dtype == "bash_progress":
                self._saw_bash_progress = True
            if tool is not None:
                tool.progress_at = at

    def _queue(self, record: JSONDict) -> None:
        op = record.get("operation")
        if op == "enqueue":  # the user typed while the agent was busy (71-69f9710768 L96)
            self._queued += 1
        elif op in ("dequeue", "remove"):
            self._queued = max(0, self._queued - 1)
        elif op == "popAll":
            self._queued = 0

    # -- deciding ---------------------------------------------------------------------

    def _decide(self, ev: _Event, now: datetime, limits: Thresholds) -> Verdict:
        ref = line_ref(ev.line_no)
        if ev.kind == "exit":
            return Verdict("ended", f"{ref}: {ev.detail or '/exit'} ended the session", ev.at)
        if ev.kind in _TERMINAL:
            what = ev.detail or _TERMINAL[ev.kind]
            return self._waiting(f"{ref}: {what}", ev, ev.kind == "turn_end")
        if ev.kind == "text" and ev.detail and ev.detail != "tool_use":
            return self._waiting(f"{ref}: reply finished (stop_reason {ev.detail})", ev, True)
        if self._pending:
            return self._pending_verdict(now, limits)
        if ev.kind in ("command", "text") or (ev.kind == "compact_summary" and ev.detail == "manual"):
            # Text whose stop_reason is still null (2.0–2.1.4x write it before it is
            # known, §1.5) ends the turn only if nothing follows for settle_after.
            settle_at = max(ev.at, self._last_activity or ev.at) + self._settle(ev, limits)
            if ev.detail != "tool_use" and now >= settle_at:
                what = f"{ev.detail} finished" if ev.kind == "command" else "reply finished"
                return self._waiting(f"{ref}: {what}, nothing written since", ev, True)
            recheck = None if ev.detail == "tool_use" else settle_at
            what = f"{ev.detail} started" if ev.kind == "command" else "the model is writing"
            return Verdict("working", f"{ref}: {what}", ev.at, recheck_at=recheck)
        if ev.kind == "compact_summary":
            return Verdict("working", f"{ref}: conversation compacted, the turn goes on", ev.at)
        return Verdict("working", f"{ref}: {_WORKING.get(ev.kind, 'working')}", ev.at)

    def _settle(self, ev: _Event, limits: Thresholds) -> timedelta:
        if ev.kind == "text" and ev.intent == "preamble":
            # "Now let me write the tests:" is followed by the call once its input has
            # streamed, which can take a long while (a big Write): not an end of turn.
            return max(limits.settle_after, PREAMBLE_SETTLE)
        if ev.kind == "text" and ev.intent == "conclusion" and not self._sidechain:
            # "Shall I open the pull request?" hands the turn over: it settles sooner.
            return min(limits.settle_after, CONCLUSION_SETTLE)
        if ev.kind == "text" and (self._stop_marked or self._sidechain):
            # Narration before a tool call can sit alone for many seconds while the
            # tool input streams (ec-38b74f08e3 L11→L13: 18.7 s), but when Stop hooks
            # run, the real end of a turn is followed by their line within ~3 s
            # (37-995 L148→L149, 24-44cdc4a359 L19→L20). So wait for it, a while.
            # A subagent's end needs nobody, so it waits as long (no ended→working flaps).
            return max(limits.settle_after, MARKED_SETTLE)
        return limits.settle_after

    def _waiting(self, reason: str, ev: _Event, queue_applies: bool) -> Verdict:
        if queue_applies and self._queued > 0:
            # Input queued while the agent worked starts the next turn right away.
            return Verdict("working", f"{line_ref(ev.line_no)}: queued input is next", ev.at)
        return Verdict("waiting_for_input", reason, ev.at)

    def _pending_verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        tools = list(self._pending.values())
        for tool in tools:
            if tool.name == "AskUserQuestion":  # subagent L33, answered at L34 after 135 s
                return Verdict(
                    "waiting_for_input",
                    f"{line_ref(tool.line_no)}: AskUserQuestion waits for an answer",
                    tool.at,
                    _pending_tool(tool),
                )
        for tool in tools:
            ref, pt = line_ref(tool.line_no), _pending_tool(tool)
            if tool.progress_at is not None:
                # Progress proves it runs; later tools wait behind it. Keep working even
                # when the progress pauses: a running tool shows no prompt.
                return Verdict("working", f"{ref}: {tool.name} is running", tool.at, pt)
            if tool.name in _SUBAGENTS:  # 4c-02af2759b6 L6
                return Verdict("working", f"{ref}: a subagent is running", tool.at, pt)
            if not self._can_prompt(tool.name):
                continue
            if not limits.infer_approval:  # hooks report approvals exactly
                return Verdict("working", f"{ref}: {tool.name} pending", tool.at, pt)
            due = tool.start + self._approval_wait(tool, limits)
            if now >= due:
                waited = duration_text(now - tool.at)
                # A guess from silence: hooks would say it exactly (`sessiond hooks install`).
                reason = f"{ref}: {tool.name} pending {waited}, no progress (likely: no hooks)"
                return Verdict("waiting_for_approval", reason, due, pt)
            return Verdict("working", f"{ref}: {tool.name} started", tool.at, pt, recheck_at=due)
        first = tools[0]
        reason = f"{line_ref(first.line_no)}: {first.name} is running"
        return Verdict("working", reason, first.at, _pending_tool(first))

    def _can_prompt(self, name: str) -> bool:
        if name == "ExitPlanMode":  # asks in every mode (subagent L67, approved at L68)
            return True
        if self._mode in _SILENT_MODES:
            return False
        if name in _EDITS:
            return self._mode != "acceptEdits"
        return name in _PROMPTING or name.startswith("mcp__")

    def _approval_wait(self, tool: _Tool, limits: Thresholds) -> timedelta:
        name = tool.name
        if name in _EDITS and tool.complete:
            # The message is complete and an edit runs in milliseconds: still pending
            # after a moment, it waits for the user.
            return min(limits.approval_after, QUICK_APPROVAL)
        siblings = sum(1 for t in self._pending.values() if t.message_id == tool.message_id)
        if not tool.complete and siblings > 1:
            # Several calls in one message still streaming: none runs, and no prompt
            # shows, until the whole message is there (a big Write can take many seconds).
            return limits.approval_after * STREAMING_FACTOR
        if name not in _SLOW and not name.startswith("mcp__"):
            return limits.approval_after  # Edit/Write/ExitPlanMode finish in milliseconds
        if name in _PROGRESS_BASH and self._reports_bash_progress():
            return limits.approval_after
        return limits.approval_after * SLOW_TOOL_FACTOR

    def _reports_bash_progress(self) -> bool:
        if self._saw_bash_progress or self._version is None:
            return True
        first, end = _PROGRESS_VERSIONS
        return first <= self._version < end


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}




def _pending_tool(tool: _Tool) -> PendingTool:
    return PendingTool(tool.name, tool.summary, input=tool.input)


def summarize_tool(name: str, raw: object) -> str:
    """A short human description of a tool call, e.g. the Bash command or the file."""
    data = _dict(raw)
    text = next((data[k] for k in _SUMMARY_FIELDS.get(name, ()) if data.get(k)), None)
    if name == "ExitPlanMode":
        plan = data.get("plan")
        lines = [ln.strip("# ").strip() for ln in plan.splitlines()] if isinstance(plan, str) else []
        text = next((ln for ln in lines if ln), "plan")
    elif name == "AskUserQuestion":
        questions = data.get("questions")
        text = _dict(questions[0] if isinstance(questions, list) and questions else data).get("question")
    if not isinstance(text, str) or not text.strip():
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)[: MAX_SUMMARY * 2]
    return clip(text, MAX_SUMMARY)


def claude_home(env: Mapping[str, str], home: Path) -> Path:
    """Claude Code's root (`CLAUDE_CONFIG_DIR`, else ~/.claude)."""
    return agent_root(env, "CLAUDE_CONFIG_DIR", home / ".claude")
