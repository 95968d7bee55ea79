"""Gemini CLI chats: `$GEMINI_CLI_HOME/.gemini/tmp/<project-id>/chats/session-*.jsonl`.

Rules: shared/docs/agent-formats.md §3. The JSONL is an upsert log (gemini-cli
`chatRecordingService.ts`): a metadata line, message records keyed by `id` and written
again whenever they change (last one wins, position kept), `{"$set": {...}}` patches and
`{"$rewindTo": id}` (drop that message and everything after it). Builds before 0.39 wrote
one JSON document `session-*.json`, rewritten whole; the shell feeds it as one record.

Only *completed* tool calls are written, so tools that run and tools that wait for the
user's approval look the same on disk (§3.3). Corpus references: "Pengui0" is
`corpus/gemini/Pengui0__cli__0-full.jsonl`; "9c", "ab", "51", "ec" are the entireio/cli
legacy documents of those ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sessiond.protocol import (
    MAX_SUMMARY,
    MAX_TITLE,
    Agent,
    JSONDict,
    PendingTool,
    clip,
    parse_ts,
)
from sessiond.sources.base import (
    FileInfo,
    SessionMeta,
    Thresholds,
    Verdict,
    line_ref,
    parts_under,
    project_name,
)
from sessiond.sources.plugin import agent_root

_MESSAGE_TYPES = frozenset({"user", "gemini", "info", "warning", "error"})
# Statuses a recorded tool call can have; only the last three reach the disk today, the
# others are handled in case a build records in-flight calls.
_RUNNING = frozenset({"validating", "scheduled", "executing"})
_CONTINUE = "System: Please continue."  # next-speaker auto-continue (51, message 3)
_CONTEXT = ("<session_context>", "<state_snapshot>")  # injected, not typed (Pengui0 L2)
_WORKDIR = re.compile(
    r"Workspace Directories:\**\s*\n\s*-\s*(\S[^\n]*)|working in the directory:\s*(\S[^\n]*)"
)
_HASH_DIR = re.compile(r"[0-9a-f]{64}")
# Enough history to find the last meaningful message and apply rewinds to recent ones.
_MAX_MESSAGES = 256
_MAX_PROJECTS = 4096


@dataclass(frozen=True, slots=True)
class _Tool:
    id: str
    name: str
    status: str
    summary: str


@dataclass(slots=True)
class _Msg:
    id: str
    type: str
    # user: prompt | tool_results | continue | context; gemini: text | empty.
    kind: str
    text: str
    tools: tuple[_Tool, ...]
    response_ids: frozenset[str]
    ref: str  # "line 32", or "message 8" inside a whole document
    at: datetime


@dataclass(slots=True)
class _Mark:
    ref: str
    at: datetime
    what: str


class GeminiState:
    def __init__(self, info: FileInfo, project: str = "") -> None:
        self._meta = SessionMeta(session_id=None, parent_id=info.parent_id, project=project)
        self._last_at: datetime | None = None
        self._messages: dict[str, _Msg] = {}
        self._rewound: _Mark | None = None
        self._ended: _Mark | None = None
        self._document = False

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def last_activity(self) -> datetime | None:
        return self._last_at

    def has_basis(self) -> bool:
        return (
            self._document
            or self._rewound is not None
            or self._ended is not None
            or self._last_message() is not None
        )

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        self._last_at = at
        ref = line_ref(line_no)
        rewind = record.get("$rewindTo")
        patch = record.get("$set")
        if isinstance(rewind, str):
            self._rewind(rewind, _Mark(ref, at, "conversation rewound"))
        elif isinstance(patch, dict):
            self._metadata(patch, at, f"{ref}, ")
        elif isinstance(record.get("id"), str):
            self._add(record, ref, at)
        elif isinstance(record.get("sessionId"), str):
            # The metadata line, or a whole legacy document (it carries `messages`).
            if "messages" in record:
                self._document = True
                self._messages.clear()
                self._rewound = self._ended = None
            self._metadata(record, at, "" if "messages" in record else f"{ref}, ")

    # -- records ------------------------------------------------------------------

    def _metadata(self, data: Mapping[str, Any], at: datetime, where: str) -> None:
        """A metadata line, a `$set` patch (`where` = "line 2, ") or a whole document
        (`where` = "": its messages are referred to as "message 8")."""
        if isinstance(data.get("sessionId"), str) and data["sessionId"]:
            self._meta.session_id = data["sessionId"]
        dirs = data.get("directories")
        if isinstance(dirs, list) and dirs and isinstance(dirs[0], str):
            self._set_cwd(dirs[0])
        messages = data.get("messages")
        if isinstance(messages, list):
            # `$set.messages` replaces the writer's list (compression, masking sync);
            # the legacy document is the whole list. Later records append to it.
            self._messages.clear()
            for index, item in enumerate(messages, start=1):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    self._add(item, f"{where}message {index}", _own_time(item) or at)

    def _add(self, record: Mapping[str, Any], ref: str, at: datetime) -> None:
        msg = _parse_message(record, ref, at)
        if msg.type == "user" and msg.kind == "prompt" and not self._meta.title:
            self._meta.title = clip(msg.text, MAX_TITLE)
        if msg.kind == "context" and not self._meta.cwd:
            found = _WORKDIR.search(msg.text)
            if found:
                self._set_cwd((found.group(1) or found.group(2)).strip())
        if msg.type in ("warning", "info", "error") and "event SessionEnd" in msg.text:
            # A SessionEnd hook only runs when the CLI exits (ec: the only record).
            self._ended = _Mark(ref, at, "the CLI ran its SessionEnd hooks: session exited")
        if msg.type in ("user", "gemini"):
            self._rewound = self._ended = None
        self._messages[msg.id] = msg
        while len(self._messages) > _MAX_MESSAGES:
            self._messages.pop(next(iter(self._messages)))

    def _rewind(self, target: str, mark: _Mark) -> None:
        ids = list(self._messages)
        if target in self._messages:
            for mid in ids[ids.index(target) :]:
                del self._messages[mid]
        else:
            # Unknown target: gemini-cli itself clears everything (loadConversationRecord);
            # here it is also what an id dropped from our bounded window means.
            self._messages.clear()
        self._rewound = mark

    def _set_cwd(self, cwd: str) -> None:
        self._meta.cwd = clip(cwd, 4096)
        self._meta.project = project_name(self._meta.cwd) or self._meta.project

    def _last_message(self) -> _Msg | None:
        for msg in reversed(self._messages.values()):
            if msg.type in ("gemini", "error") or (msg.type == "user" and msg.kind != "context"):
                return msg
        return None

    def _previous_gemini(self, before: _Msg) -> _Msg | None:
        seen = False
        for msg in reversed(self._messages.values()):
            if seen and msg.type == "gemini":
                return msg
            seen = seen or msg is before
        return None

    # -- verdict ------------------------------------------------------------------

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        if self._ended is not None:
            e = self._ended
            return Verdict("ended", f"{e.ref}: {e.what}", e.at)
        if self._rewound is not None:
            r = self._rewound
            return Verdict("waiting_for_input", f"{r.ref}: {r.what}, back at the prompt", r.at)
        m = self._last_message()
        if m is None:
            return Verdict("waiting_for_input", "no prompt yet", self._last_at)
        if m.type == "error":
            return Verdict("waiting_for_input", f"{m.ref}: error: {clip(m.text, 120)}", m.at)
        if m.type == "user":
            return self._after_user(m)
        cancelled = [t for t in m.tools if t.status == "cancelled"]
        if cancelled:
            reason = f"{m.ref}: {cancelled[0].name} cancelled: interrupted by the user"
            return Verdict("waiting_for_input", reason, m.at)
        asking = [t for t in m.tools if t.status == "awaiting_approval"]
        if asking:
            t = asking[0]
            reason = f"{m.ref}: {t.name} is awaiting approval"
            return Verdict("waiting_for_approval", reason, m.at, PendingTool(t.name, t.summary))
        running = [t for t in m.tools if t.status in _RUNNING]
        if running:
            t = running[0]
            reason = f"{m.ref}: {t.name} {t.status}"
            return Verdict("working", reason, m.at, PendingTool(t.name, t.summary))
        if m.tools:
            # Completed calls always go back to the model (9c: 98b30b64 has text and a
            # finished write_file; the next reply follows 2 s later). Not a turn end.
            names = ", ".join(t.name for t in m.tools[:3])
            reason = f"{m.ref}: {names} finished, results go back to the model"
            return Verdict("working", reason, m.at)
        if m.kind == "empty":
            # Pengui0 L7/L12/L17/L22/L27: tools asked for, not finished. An approval
            # prompt looks exactly the same, and the record names no tool, so no guess.
            reason = f"{m.ref}: model called tools, not finished (running or awaiting approval)"
            return Verdict("working", reason, m.at)
        # Text with no tool calls: the end of the turn, unless tool calls are added to the
        # same message soon (9c ends like this; ab shows the same id with read_file).
        due = m.at + limits.settle_after
        if self._last_at is not None:
            due = max(due, self._last_at + limits.settle_after)
        if now >= due:
            return Verdict("waiting_for_input", f"{m.ref}: reply with no tool calls", m.at)
        reason = f"{m.ref}: reply with no tool calls yet, settling"
        return Verdict("working", reason, m.at, recheck_at=due)

    def _after_user(self, m: _Msg) -> Verdict:
        if m.kind == "tool_results":
            prev = self._previous_gemini(m)
            cancelled = {t.id for t in prev.tools if t.status == "cancelled"} if prev else set()
            if m.response_ids and m.response_ids <= cancelled:
                reason = f"{m.ref}: results of cancelled tools: interrupted by the user"
                return Verdict("waiting_for_input", reason, m.at)
            return Verdict("working", f"{m.ref}: tool results sent to the model", m.at)
        if m.kind == "continue":
            return Verdict("working", f"{m.ref}: auto-continue ({_CONTINUE})", m.at)
        return Verdict("working", f"{m.ref}: user prompt", m.at)


def _parse_message(record: Mapping[str, Any], ref: str, at: datetime) -> _Msg:
    mtype = record.get("type") if isinstance(record.get("type"), str) else "unknown"
    content = record.get("content")
    text = _text(content)
    response_ids = frozenset(_response_ids(content))
    tools = tuple(_tools(record.get("toolCalls")))
    if mtype == "user":
        if response_ids or _has_function_response(content):
            kind = "tool_results"
        elif text.strip().startswith(_CONTINUE):
            kind = "continue"
        elif text.lstrip().startswith(_CONTEXT):
            kind = "context"
        else:
            kind = "prompt"
    else:
        kind = "text" if text.strip() else "empty"
    # Keep what titles, reasons and the cwd sniff need, not whole file listings.
    keep = 4096 if kind == "context" else MAX_TITLE * 2
    return _Msg(str(record["id"]), str(mtype), kind, text[:keep], tools, response_ids, ref, at)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(t for t in parts if isinstance(t, str))
    return ""


def _has_function_response(content: object) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and "functionResponse" in p for p in content
    )


def _response_ids(content: object) -> Iterable[str]:
    if not isinstance(content, list):
        return
    for part in content:
        fr = part.get("functionResponse") if isinstance(part, dict) else None
        if isinstance(fr, dict) and isinstance(fr.get("id"), str):
            yield fr["id"]


def _tools(calls: object) -> Iterable[_Tool]:
    if not isinstance(calls, list):
        return
    for call in calls:
        if not isinstance(call, dict):
            continue
        name = str(call.get("displayName") or call.get("name") or "tool")
        raw_args = call.get("args")
        args: Mapping[str, Any] = raw_args if isinstance(raw_args, dict) else {}
        detail = next(
            (args[k] for k in ("command", "file_path", "path", "pattern", "url") if k in args),
            call.get("description") or "",
        )
        status = str(call.get("status") or "")
        summary = clip(f"{name}: {detail}" if detail else name, MAX_SUMMARY)
        yield _Tool(str(call.get("id") or ""), str(call.get("name") or name), status, summary)


def _own_time(record: Mapping[str, Any]) -> datetime | None:
    """A message's latest timestamp: re-written records keep the first `timestamp`, but
    their tool calls carry when they finished (Pengui0 L9: 06:21:15 vs 06:21:20)."""
    times = [parse_ts(record.get("timestamp"))]
    calls = record.get("toolCalls")
    if isinstance(calls, list):
        times += [parse_ts(c.get("timestamp")) for c in calls if isinstance(c, dict)]
    known = [t for t in times if t is not None]
    return max(known) if known else None


class GeminiSource:
    agent: Agent = "gemini"

    def __init__(self) -> None:
        # Project ids seen by identify(), for new_state(): the path is the only place
        # a slug project id (`tmp/cli/...`, Pengui0) is known.
        self._projects: dict[str, str] = {}

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [gemini_home(env, home) / "tmp"]

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        parts = parts_under(path, root)
        if parts is None:
            return None
        if len(parts) not in (3, 4) or parts[1] != "chats":
            return None
        name = parts[-1]
        # A main chat is named after the first 8 characters of its sessionId
        # (`session-<ts>-1795e8c7.jsonl`), its subagents' folder after the whole id. The
        # 8 characters are the id both can agree on (and the one a legacy `.json` and
        # the `.jsonl` it is migrated to share).
        if len(parts) == 4:
            if not name.endswith(".jsonl"):
                return None
            info = FileInfo("gemini", path.stem, role="subagent", parent_id=parts[2][:8])
        elif name.startswith("session-") and name.endswith((".json", ".jsonl")):
            short = path.stem.rsplit("-", 1)[-1]
            info = FileInfo("gemini", short, whole_document=name.endswith(".json"))
        else:
            return None
        # A sha256 project id says nothing to people; a slug is the project's name.
        if not _HASH_DIR.fullmatch(parts[0]):
            self._projects[info.session_id] = parts[0]
            while len(self._projects) > _MAX_PROJECTS:
                self._projects.pop(next(iter(self._projects)))
        return info

    def new_state(self, info: FileInfo) -> GeminiState:
        return GeminiState(info, self._projects.get(info.session_id, ""))

    def record_time(self, record: JSONDict) -> datetime | None:
        if isinstance(record.get("id"), str):
            return _own_time(record)
        patch = record.get("$set")
        if isinstance(patch, dict):
            return parse_ts(patch.get("lastUpdated"))
        if isinstance(record.get("sessionId"), str):
            return parse_ts(record.get("lastUpdated")) or parse_ts(record.get("startTime"))
        return None

    def recognises(self, record: JSONDict) -> bool:
        if isinstance(record.get("$set"), dict) or isinstance(record.get("$rewindTo"), str):
            return True
        if isinstance(record.get("sessionId"), str):
            return isinstance(record.get("projectHash"), str) or "messages" in record
        return (
            isinstance(record.get("id"), str)
            and isinstance(record.get("type"), str)
            and record.get("type") in _MESSAGE_TYPES
            and "content" in record
            and "message" not in record
            and "uuid" not in record
        )


def gemini_home(env: Mapping[str, str], home: Path) -> Path:
    """Gemini CLI's `.gemini` folder (under `GEMINI_CLI_HOME`, else under ~)."""
    return agent_root(env, "GEMINI_CLI_HOME", home) / ".gemini"
