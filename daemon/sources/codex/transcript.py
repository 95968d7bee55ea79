"""Codex CLI rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<thread>.jsonl`.

Rules: shared/docs/agent-formats.md §2. Every line is an envelope
`{"timestamp", "type", "payload"}`; the turn is bracketed by `event_msg` `task_started`
... `task_complete` / `turn_aborted`. Approval prompts are never written (§2.3), so
waiting_for_approval is a guess: a call that can prompt (an escalated command, a patch, any
command under `untrusted`) with no output yet, under an approval policy that asks. Corpus references are to
`corpus/codex/entireio__external-agents__5c-d654717a10-0-full.jsonl` ("5c") and
`..._fc-9a115d0155-0-full.jsonl` ("fc").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
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

_KINDS = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
# Response items written bare, without the envelope (very early Rust builds).
_BARE_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning"})
# `turn_started` / `turn_complete` are the Rust variant aliases of the wire names (§2.3).
_TURN_START = frozenset({"task_started", "turn_started"})
_TURN_END = frozenset({"task_complete", "turn_complete"})
_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
# Only these policies show the user a prompt for an escalated command (§2.4 (2)).
_ASKING_POLICIES = frozenset({"on-request", "untrusted"})
# Under `untrusted` every command outside Codex's known-safe list asks.
_COMMANDS = frozenset({"exec_command", "shell", "local_shell_call", "container.exec"})
# `sandbox_permissions` values that ask the user: require_escalated (5c L582) and the
# newer with_additional_permissions (a scoped extra grant, approved the same way).
_ESCALATIONS = frozenset({"require_escalated", "with_additional_permissions"})
# Text the CLI injects as "user" messages; never a title (5c L3-L4: permissions, AGENTS.md).
_INJECTED = (
    "<environment_context",
    "<user_instructions",
    "<permissions instructions",
    "<turn_aborted",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MAX_PENDING = 256


@dataclass(slots=True)
class _Mark:
    """A line that can decide a status."""

    line_no: int | None
    at: datetime
    what: str


@dataclass(slots=True)
class _Call:
    call_id: str
    name: str
    summary: str
    escalated: bool
    # An approved exec_command answers after at most `yield_time_ms` (5c L25 -> L27:
    # "Wall time: 1.0024 seconds ... Process running"), so silence only counts after it.
    grace: timedelta
    mark: _Mark


class CodexState:
    def __init__(self, info: FileInfo) -> None:
        self._meta = SessionMeta(session_id=info.session_id, parent_id=info.parent_id)
        self._last_at: datetime | None = None
        self._policy = ""
        # Build persists task_started/task_complete (the corpus 0.121+ builds do; §2.3).
        self._markers = False
        self._turn: _Mark | None = None
        self._ended: _Mark | None = None
        self._pending: dict[str, _Call] = {}
        self._final: _Mark | None = None
        # The last meaningful item was an assistant reply (only used without markers).
        self._reply: _Mark | None = None
        self._latest: _Mark | None = None
        self._title_from_event = False

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def last_activity(self) -> datetime | None:
        return self._last_at

    def has_basis(self) -> bool:
        return self._turn is not None or self._ended is not None

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        self._last_at = at
        kind = _word(record.get("type"))
        payload = record.get("payload")
        if not isinstance(payload, dict):
            if kind not in _BARE_ITEMS:
                return
            kind, payload = "response_item", record
        mark = _Mark(line_no, at, "")
        if kind == "session_meta":
            self._session_meta(payload)
        elif kind == "turn_context":
            if isinstance(payload.get("approval_policy"), str):
                self._policy = payload["approval_policy"]
            self._set_cwd(payload.get("cwd"))
        elif kind == "event_msg":
            self._event(payload, mark)
        elif kind == "response_item":
            self._item(payload, mark)
        elif kind == "compacted":
            # Auto-compaction runs inside a turn: no change of status (§2.4 (6)).
            self._note(mark, "context compacted")

    # -- records ------------------------------------------------------------------

    def _session_meta(self, p: Mapping[str, Any]) -> None:
        for key in ("id", "session_id"):
            if isinstance(p.get(key), str) and p[key]:
                self._meta.session_id = p[key]
                break
        self._set_cwd(p.get("cwd"))
        git = p.get("git")
        if isinstance(git, dict) and isinstance(git.get("branch"), str):
            self._meta.branch = git["branch"]
        parent = p.get("parent_thread_id") or _find_parent(p.get("source"))
        if isinstance(parent, str) and parent:
            self._meta.parent_id = parent

    def _event(self, p: Mapping[str, Any], mark: _Mark) -> None:
        t = _word(p.get("type"))
        if t in _TURN_START:
            self._markers = True
            self._open(mark, "turn started (task_started)")
        elif t in _TURN_END:
            self._markers = True
            error = p.get("error")
            if error:
                msg = error.get("message") if isinstance(error, dict) else error
                self._close(mark, f"turn failed: {clip(str(msg), 120)}")
            else:
                self._close(mark, "turn complete (task_complete)")
        elif t == "turn_aborted":
            reason = p.get("reason") if isinstance(p.get("reason"), str) else "aborted"
            self._close(mark, f"turn aborted ({reason}): interrupted, waiting for input")
        elif t == "user_message":
            text = p.get("message")
            if isinstance(text, str) and not self._title_from_event and not _injected(text):
                self._meta.title = clip(text, MAX_TITLE)
                self._title_from_event = True
            self._prompt(mark)
        elif t == "agent_message":
            self._assistant(mark, p.get("phase"))
        elif t == "exec_command_end":
            # Ran, so it was not waiting for approval (0.121-0.125 persist it: 5c L16).
            self._pending.pop(str(p.get("call_id")), None)
        elif t == "context_compacted":
            self._note(mark, "context compacted")

    def _item(self, p: Mapping[str, Any], mark: _Mark) -> None:
        t = _word(p.get("type"))
        if t in _CALLS:
            call = _make_call(p, mark)
            self._pending[call.call_id] = call
            while len(self._pending) > _MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
            self._note(mark, f"{call.name} call")
            self._reply = None
        elif t in _OUTPUTS:
            self._pending.pop(str(p.get("call_id")), None)
            self._note(mark, "tool output")
            self._reply = None
        elif t == "message" and p.get("role") == "assistant":
            self._assistant(mark, p.get("phase"))
        elif t == "message" and p.get("role") == "user":
            text = _message_text(p.get("content"))
            if not _injected(text):
                if not self._title_from_event and not self._meta.title:
                    self._meta.title = clip(text, MAX_TITLE)
                self._prompt(mark)
        elif t == "reasoning":
            self._note(mark, "reasoning")
            self._reply = None
        elif t == "compaction":
            self._note(mark, "context compacted")

    def _assistant(self, mark: _Mark, phase: object) -> None:
        if phase == "final_answer":
            # The end is near but the turn is open until task_complete (5c L816-L817).
            self._final = mark
            self._note(mark, "final answer written")
        else:
            self._note(mark, "assistant message")
        self._reply = mark

    def _prompt(self, mark: _Mark) -> None:
        """A typed prompt. Builds that do not persist task_started: the prompt itself
        opens the turn; without any markers every prompt starts a new one. (The prompt is
        written twice, as a response_item and as an event_msg: 5c L6-L7.)"""
        fresh = self._turn is not None and self._latest is self._turn
        if self._turn is None or (not self._markers and not fresh):
            self._open(mark, "user prompt")
        self._reply = None

    def _open(self, mark: _Mark, what: str) -> None:
        mark.what = what
        self._turn, self._ended, self._final, self._reply = mark, None, None, None
        self._pending.clear()
        self._latest = mark

    def _close(self, mark: _Mark, what: str) -> None:
        mark.what = what
        self._turn, self._ended, self._final, self._reply = None, mark, None, None
        self._pending.clear()
        self._latest = mark

    def _note(self, mark: _Mark, what: str) -> None:
        self._latest = _Mark(mark.line_no, mark.at, what)

    def _set_cwd(self, cwd: object) -> None:
        if isinstance(cwd, str) and cwd:
            self._meta.cwd = cwd
            self._meta.project = project_name(cwd)

    # -- verdict ------------------------------------------------------------------

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        if self._turn is None:
            if self._ended is not None:
                e = self._ended
                return Verdict("waiting_for_input", f"{line_ref(e.line_no)}: {e.what}", e.at)
            return Verdict("waiting_for_input", "no prompt yet", self._last_at)
        turn = self._turn
        pending = self._latest_pending()
        asking = self._asking() if limits.infer_approval else None
        if asking is not None:
            c, why = asking
            due = c.mark.at + limits.approval_after + c.grace
            tool = PendingTool(c.name, c.summary)
            if now >= due:
                secs = int((now - c.mark.at).total_seconds())
                reason = (
                    f"{line_ref(c.mark.line_no)}: {c.name} {why} "
                    f"(approval_policy {self._policy}), no output for {secs} s"
                )
                return Verdict("waiting_for_approval", reason, c.mark.at, tool)
            reason = f"{line_ref(c.mark.line_no)}: {c.name} just requested, it may ask"
            return Verdict("working", reason, turn.at, tool, recheck_at=due)
        current = PendingTool(pending.name, pending.summary) if pending else None
        if not self._markers and self._reply is not None and pending is None:
            # No task_complete in this build: a reply with nothing after it is the end
            # once the file has settled.
            r = self._reply
            due = r.at + limits.settle_after
            if self._last_at is not None:
                due = max(due, self._last_at + limits.settle_after)
            if now >= due:
                reason = f"{line_ref(r.line_no)}: assistant reply, nothing after it"
                return Verdict("waiting_for_input", reason, r.at)
            reason = f"{line_ref(r.line_no)}: assistant reply, may go on"
            return Verdict("working", reason, turn.at, recheck_at=due)
        reason = f"{line_ref(turn.line_no)}: {turn.what}, no task_complete yet"
        latest = self._latest
        if self._final is not None:
            reason += f"; {line_ref(self._final.line_no)}: final answer, turn not closed"
        elif latest is not None and latest is not turn:
            reason += f"; latest {line_ref(latest.line_no)}: {latest.what}"
        return Verdict("working", reason, turn.at, current)

    def _latest_pending(self) -> _Call | None:
        return next(reversed(self._pending.values()), None) if self._pending else None

    def _asking(self) -> tuple[_Call, str] | None:
        """The oldest pending call that shows a prompt under the current policy."""
        if self._policy not in _ASKING_POLICIES:
            return None
        for call in self._pending.values():
            if call.escalated:
                return call, "asks to leave the sandbox"
            if call.name == "apply_patch":
                # Allowed patches apply within 0.6 s (all 23 in the corpus, e.g. 5c
                # L261 -> L264); a patch outside the writable roots, under a read-only
                # sandbox or under `untrusted` asks first.
                return call, "not applied yet"
            if self._policy == "untrusted" and call.name in _COMMANDS:
                return call, "needs approval for any unlisted command"
        return None


def _make_call(p: Mapping[str, Any], mark: _Mark) -> _Call:
    name = str(p.get("name") or p.get("type") or "tool")
    call_id = str(p.get("call_id") or p.get("id") or f"line-{mark.line_no}")
    args: Mapping[str, Any] = {}
    raw = p.get("arguments")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            args = parsed
    elif isinstance(raw, dict):
        args = raw
    if p.get("type") == "local_shell_call" and isinstance(p.get("action"), dict):
        args = p["action"]
        name = "shell"
    escalated = (
        _word(args.get("sandbox_permissions")) in _ESCALATIONS
        or args.get("with_escalated_permissions") is True
    )
    grace = timedelta(0)
    yield_ms = args.get("yield_time_ms")
    if isinstance(yield_ms, int | float) and 0 < yield_ms < 600_000:
        grace = timedelta(milliseconds=yield_ms)
    return _Call(call_id, name, _summary(name, args, p), escalated, grace, mark)


def _summary(name: str, args: Mapping[str, Any], p: Mapping[str, Any]) -> str:
    """For exec_command/shell the command (a list is joined), plus the justification."""
    cmd = args.get("cmd", args.get("command"))
    if isinstance(cmd, list):
        text = " ".join(str(part) for part in cmd)
    elif isinstance(cmd, str):
        text = cmd
    elif isinstance(p.get("input"), str):
        # apply_patch (custom_tool_call): the files it touches.
        files = re.findall(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", p["input"], re.M)
        text = ", ".join(files) if files else p["input"]
    else:
        text = json.dumps(args, ensure_ascii=False)[:MAX_SUMMARY] if args else name
    justification = args.get("justification")
    if isinstance(justification, str) and justification:
        text = f"{text} — {justification}"
    return clip(text, MAX_SUMMARY)


def _word(value: object) -> str:
    """A record's `type` and the like, as a string (a list or dict is no known word, and
    could not even be looked up in a set)."""
    return value if isinstance(value, str) else ""


def _message_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c.get("text") for c in content if isinstance(c, dict)]
        return "\n".join(t for t in parts if isinstance(t, str))
    return ""


def _injected(text: str) -> bool:
    stripped = text.lstrip()
    return not stripped or stripped.startswith(_INJECTED)


def _find_parent(source: object, depth: int = 0) -> str | None:
    """`source: {"subagent": {"thread_spawn": {"parent_thread_id": ...}}}` (newer builds)."""
    if not isinstance(source, dict) or depth > 4:
        return None
    value = source.get("parent_thread_id")
    if isinstance(value, str):
        return value
    for child in source.values():
        found = _find_parent(child, depth + 1)
        if found:
            return found
    return None


class CodexSource:
    agent: Agent = "codex"

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [codex_home(env, home) / "sessions"]

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        parts = parts_under(path, root)
        if parts is None:
            return None
        name = parts[-1] if parts else ""
        if not (name.startswith("rollout-") and name.endswith(".jsonl")):
            return None
        dated = len(parts) == 4 and all(p.isdigit() for p in parts[:3])
        if len(parts) != 1 and not dated:
            return None
        # `rollout-<local ts>-<thread uuid>[_<rollout>].jsonl`: the first uuid is the thread.
        found = _UUID.search(name[len("rollout-") :])
        session_id = found.group(0).lower() if found else path.stem
        return FileInfo("codex", session_id)

    def new_state(self, info: FileInfo) -> CodexState:
        return CodexState(info)

    def record_time(self, record: JSONDict) -> datetime | None:
        return parse_ts(record.get("timestamp"))

    def recognises(self, record: JSONDict) -> bool:
        return _word(record.get("type")) in _KINDS and isinstance(record.get("payload"), dict)


def codex_home(env: Mapping[str, str], home: Path) -> Path:
    """Codex CLI's root (`CODEX_HOME`, else ~/.codex)."""
    return agent_root(env, "CODEX_HOME", home / ".codex")
