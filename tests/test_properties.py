"""Issue 8, property-based: every parser and classifier, fed anything, never raises.

- `jsonl.decode_line`: any bytes; well-formed objects glued in any way come back whole.
- `Tailer` / `read_tail`: any content, written in any chunks, gives the same lines as the
  whole file, with lines over the limit skipped and numbered.
- The four agents' `TranscriptState`s through `classify()`: any JSON objects, and any
  sequence of well-formed records of the agent's known types with random fields, in any
  order, always give a status in `STATUSES`, a bounded reason and bounded pending tool.
  A transcript fed through the real Tailer in arbitrary chunks classifies exactly like
  the same file read whole.
- `inspect_file` on any bytes, and `hooks.parse_hook` on any payload.

The number of examples is fixed and derandomized, so CI time is bounded and stable.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sessiond.hooks.reconcile import parse_hook
from sessiond.inspection import InspectError, inspect_file
from sessiond.protocol import AGENTS, MAX_REASON, MAX_SUMMARY, STATUSES, JSONDict, Session
from sessiond.read.jsonl import decode_line
from sessiond.read.tailer import Tailer, read_tail
from sessiond.sources.base import AgentSource, FileInfo, Thresholds, TranscriptState, classify
from sessiond.sources.claude.transcript import ClaudeSource
from sessiond.sources.codex.transcript import CodexSource
from sessiond.sources.cursor.transcript import CursorSource, CursorState
from sessiond.sources.gemini.transcript import GeminiSource, GeminiState

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(SETTINGS, max_examples=60)

BASE = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = [
    Thresholds(),
    Thresholds(approval_after=timedelta(seconds=0.5), settle_after=timedelta(seconds=0.3),
               idle_after=timedelta(seconds=30), stale_after=timedelta(seconds=20)),
    Thresholds(infer_approval=False),
]

# -- values ------------------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
any_json: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Every key some agent's format uses: "any object" mostly uses these, with any values.
KEYS = [
    "type", "payload", "role", "message", "content", "uuid", "sessionId", "cwd", "gitBranch", "version",
    "isSidechain", "agentId", "subtype", "data", "attachment", "operation", "id", "$set", "$rewindTo",
    "toolCalls", "status", "error", "call_id", "name", "arguments", "phase", "approval_policy", "git",
    "source", "parent_thread_id", "summary", "customTitle", "title", "permissionMode", "parentToolUseID",
    "toolUseID", "hookEvent", "hookName", "isCompactSummary", "isApiErrorMessage", "messages", "directories",
    "timestamp", "lastUpdated", "startTime", "input", "action", "text", "stop_reason", "tool_use_id",
    "compactMetadata", "trigger", "displayName", "args", "functionResponse", "reason", "cmd", "command",
    "sandbox_permissions", "yield_time_ms", "justification", "questions", "plan", "file_path", "leafUuid",
]
keys = st.sampled_from(KEYS) | st.text(max_size=8)
keyed_json: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=16,
)
# Text that means something to some classifier, and text that breaks naive code.
SPECIAL_TEXT = [
    "", " ", "/exit", "/quit", "<command-name>/exit</command-name>", "<command-name>/model</command-name>"
    "<command-args>opus</command-args>", "[Request interrupted by user]",
    "[Request interrupted by user for tool use]", "<local-command-stdout>ok</local-command-stdout>",
    "<task-notification>done</task-notification>", "Operation stopped by hook", "<bash-input>ls</bash-input>",
    "<local-command-caveat>x", "Caveat: The messages below", "<ide_opened_file>f</ide_opened_file>",
    "System: Please continue.", "<session_context>Workspace Directories:\n - /w/p\n",
    "<user_query>fix it</user_query>", "User aborted request.", "# AGENTS.md instructions",
    "<environment_context>", "event SessionEnd", "\ud800", "\udfff lone", "\x00\x1b[2J\x07",
    "\u202e", "x" * 5000, "a\nb\r\nc", "Stop hook", "*** Update File: a.py\n",
]
texts = st.sampled_from(SPECIAL_TEXT) | st.text(max_size=40)


def field(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value of the expected kind; sometimes anything at all (type confusion)."""
    return st.one_of(plausible, plausible, plausible, any_json)


def timestamps() -> st.SearchStrategy[Any]:
    good = st.integers(0, 7200).map(
        lambda s: (BASE + timedelta(seconds=s)).isoformat().replace("+00:00", "Z"))
    return st.one_of(good, good, good, st.sampled_from(["", "yesterday", "2025-13-40T99:00:00Z"]),
                     st.none(), st.integers())


def record(fixed: dict[str, Any], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[JSONDict]:
    """A dict with the `fixed` items and a random subset of `fields`."""
    return st.fixed_dictionaries(fixed, optional={k: field(v) for k, v in fields.items()})


ids = st.sampled_from(["a", "b", "c", "t1", "t2", "call_1", "m1", "m2"]) | st.text(max_size=6)
tool_names = st.sampled_from([
    "Bash", "Edit", "Write", "Read", "ExitPlanMode", "AskUserQuestion", "Task", "Agent", "WebFetch",
    "mcp__x__y", "Skill", "Glob", "exec_command", "shell", "apply_patch", "run_shell_command",
    "write_file", "container.exec", "Shell", "x" * 400, "\ud800",
]) | st.text(max_size=10)

# -- Claude ------------------------------------------------------------------------------

claude_blocks = st.one_of(
    record({"type": st.just("text")}, text=texts),
    record({"type": st.sampled_from(["thinking", "redacted_thinking"])}, thinking=texts),
    record({"type": st.just("tool_use")}, id=ids, name=tool_names,
           input=st.fixed_dictionaries({}, optional={
               "command": texts, "file_path": texts, "plan": texts, "description": texts,
               "questions": st.lists(st.fixed_dictionaries({"question": texts}), max_size=2)})),
    record({"type": st.just("tool_result")}, tool_use_id=ids, content=texts, is_error=st.booleans()),
)
claude_common = {
    "uuid": st.sampled_from([f"u{i}" for i in range(8)]) | st.uuids().map(str),
    "parentUuid": st.none() | st.text(max_size=4),
    "sessionId": st.sampled_from(["s1", "s2"]) | texts,
    "cwd": st.sampled_from(["/home/u/app", "/", ""]) | texts,
    "gitBranch": texts, "version": st.sampled_from(["2.0.1", "2.1.12", "2.1.90", "1.0.3"]) | texts,
    "isSidechain": st.booleans(), "agentId": st.none() | ids, "timestamp": timestamps(),
    "permissionMode": st.sampled_from(["default", "acceptEdits", "bypassPermissions", "plan", "auto"]),
}
claude_records = st.one_of(
    record({"type": st.just("user")}, **claude_common,
           message=st.fixed_dictionaries({"role": st.just("user")}, optional={
               "content": texts | st.lists(claude_blocks, max_size=3)}),
           isCompactSummary=st.booleans(), isMeta=st.booleans()),
    record({"type": st.just("assistant")}, **claude_common, isApiErrorMessage=st.booleans(),
           message=st.fixed_dictionaries({"role": st.just("assistant")}, optional={
               "id": st.sampled_from(["msg_1", "msg_2", "msg_3"]),
               "content": st.lists(claude_blocks, max_size=3) | texts,
               "stop_reason": st.sampled_from(["end_turn", "tool_use", "max_tokens", "stop_sequence"])
               | st.none()})),
    record({"type": st.just("system")}, **claude_common,
           subtype=st.sampled_from(["api_error", "stop_hook_summary", "turn_duration", "compact_boundary",
                                    "local_command", "informational", "microcompact_boundary"]),
           content=texts,
           compactMetadata=st.fixed_dictionaries({"trigger": st.sampled_from(["auto", "manual"])})),
    record({"type": st.just("progress")}, **claude_common, parentToolUseID=ids, toolUseID=ids,
           data=record({"type": st.sampled_from(["hook_progress", "bash_progress", "agent_progress",
                                                  "mcp_progress", "query_update", "waiting_for_task"])},
                       hookEvent=st.sampled_from(["Stop", "SubagentStop", "SessionStart", "PreToolUse",
                                                  "PostToolUse", "PostToolUseFailure"]),
                       hookName=st.sampled_from(["SessionStart:startup", "SessionStart:compact"]))),
    record({"type": st.just("attachment")}, **claude_common,
           attachment=st.fixed_dictionaries({"hookEvent": st.sampled_from(["Stop", "PreToolUse"])})),
    record({"type": st.just("queue-operation")}, **claude_common,
           operation=st.sampled_from(["enqueue", "dequeue", "remove", "popAll"])),
    record({"type": st.sampled_from(["summary", "custom-title", "permission-mode", "file-history-snapshot",
                                     "last-prompt", "agent-name", "tag", "mode"])},
           summary=texts, customTitle=texts, title=texts, leafUuid=ids, sessionId=texts,
           permissionMode=st.sampled_from(["default", "acceptEdits", "dontAsk"]), snapshot=any_json),
)

# -- Codex -------------------------------------------------------------------------------

codex_args = st.fixed_dictionaries({}, optional={
    "cmd": texts | st.lists(texts, max_size=3), "command": texts | st.lists(texts, max_size=3),
    "sandbox_permissions": st.sampled_from(["require_escalated", "with_additional_permissions", "auto"]),
    "with_escalated_permissions": st.booleans(), "justification": texts,
    "yield_time_ms": st.integers(-10, 10**7) | st.floats(allow_nan=False, allow_infinity=False),
})
codex_items = st.one_of(
    record({"type": st.sampled_from(["function_call", "custom_tool_call", "local_shell_call"])},
           name=tool_names, call_id=ids, id=ids, input=texts, action=codex_args,
           arguments=codex_args.map(json.dumps) | codex_args | texts),
    record({"type": st.sampled_from(["function_call_output", "custom_tool_call_output"])}, call_id=ids,
           output=texts),
    record({"type": st.just("message")}, role=st.sampled_from(["user", "assistant", "developer"]),
           phase=st.sampled_from(["final_answer", "commentary"]),
           content=texts | st.lists(st.fixed_dictionaries({"type": st.just("input_text"), "text": texts}),
                                    max_size=2)),
    record({"type": st.sampled_from(["reasoning", "compaction"])}, summary=any_json),
)
codex_events = record(
    {"type": st.sampled_from(["task_started", "turn_started", "task_complete", "turn_complete",
                              "turn_aborted", "user_message", "agent_message", "exec_command_end",
                              "context_compacted", "token_count"])},
    error=st.none() | texts | st.fixed_dictionaries({"message": texts}), reason=texts, message=texts,
    phase=st.sampled_from(["final_answer", "commentary"]), call_id=ids,
)
codex_records = st.one_of(
    record({"type": st.just("session_meta"), "timestamp": timestamps()},
           payload=record({}, id=ids, session_id=ids, cwd=texts, git=st.fixed_dictionaries({"branch": texts}),
                          parent_thread_id=ids, source=any_json)),
    record({"type": st.just("turn_context"), "timestamp": timestamps()},
           payload=record({}, approval_policy=st.sampled_from(["on-request", "untrusted", "never",
                                                               "on-failure"]), cwd=texts)),
    st.fixed_dictionaries({"type": st.just("event_msg"), "timestamp": timestamps(), "payload": codex_events}),
    st.fixed_dictionaries({"type": st.just("response_item"), "timestamp": timestamps(),
                           "payload": codex_items}),
    record({"type": st.just("compacted"), "timestamp": timestamps()}, payload=any_json),
    codex_items,  # bare items, as very early builds wrote them
)

# -- Gemini ------------------------------------------------------------------------------

gemini_calls = st.lists(record(
    {}, id=ids, name=tool_names, displayName=tool_names, description=texts, timestamp=timestamps(),
    status=st.sampled_from(["success", "error", "cancelled", "awaiting_approval", "executing",
                            "scheduled", "validating"]),
    args=st.fixed_dictionaries({}, optional={"command": texts, "file_path": texts}),
), max_size=3)
gemini_content = texts | st.lists(st.one_of(
    st.fixed_dictionaries({"text": texts}),
    st.fixed_dictionaries({"functionResponse": record({}, id=ids, name=tool_names)}),
), max_size=3)
gemini_message = record(
    {"id": ids, "type": st.sampled_from(["user", "gemini", "info", "warning", "error"])},
    content=gemini_content, toolCalls=gemini_calls, timestamp=timestamps(),
)
gemini_records = st.one_of(
    gemini_message, gemini_message,
    record({"sessionId": ids}, projectHash=texts, startTime=timestamps(), lastUpdated=timestamps(),
           directories=st.lists(texts, max_size=2), messages=st.lists(gemini_message, max_size=4)),
    st.fixed_dictionaries({"$set": record({}, lastUpdated=timestamps(), messages=st.lists(gemini_message,
                                                                                           max_size=3),
                                          directories=st.lists(texts, max_size=2))}),
    st.fixed_dictionaries({"$rewindTo": ids}),
)

# -- Cursor ------------------------------------------------------------------------------

cursor_blocks = st.one_of(
    record({"type": st.just("text")}, text=texts),
    record({"type": st.just("tool_use")}, name=tool_names,
           input=st.fixed_dictionaries({}, optional={
               "command": texts, "path": st.sampled_from(["/w/my_project/src/a.py", "/x"]) | texts})),
)
cursor_records = st.one_of(
    record({"role": st.sampled_from(["user", "assistant"])},
           message=st.fixed_dictionaries(
               {}, optional={"content": st.lists(cursor_blocks, max_size=3) | texts})),
    record({"type": st.just("turn_ended")}, status=st.sampled_from(["success", "error"]),
           error=texts),
)

# -- realistic records ---------------------------------------------------------------------------
# Lines as the agents write them (no timestamps: fed one second apart), sampled in any
# order and mixed with the random records above, so every status is reached often.


def _claude_tool(name: str, tool_id: str, **tool_input: Any) -> JSONDict:
    return {"type": "assistant", "sessionId": "s1", "cwd": "/w/app", "message": {
        "id": f"msg_{tool_id}", "role": "assistant", "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}]}}


def _claude_user(content: Any) -> JSONDict:
    return {"type": "user", "sessionId": "s1", "cwd": "/w/app", "gitBranch": "main",
            "message": {"role": "user", "content": content}}


CLAUDE_LINES: list[JSONDict] = [
    _claude_user("fix the failing test"),
    _claude_tool("Bash", "t1", command="git push"),
    _claude_tool("Edit", "t2", file_path="/w/app/a.py"),
    _claude_tool("ExitPlanMode", "t3", plan="# Plan\n- do it"),
    _claude_tool("AskUserQuestion", "t4", questions=[{"question": "Which one?"}]),
    _claude_tool("Task", "t5", description="explore"),
    _claude_tool("mcp__github__create_pr", "t6", title="x"),
    _claude_user([{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]),
    _claude_user([{"type": "tool_result", "tool_use_id": "t2", "content": "ok"}]),
    {"type": "progress", "parentToolUseID": "t1", "data": {"type": "bash_progress"}},
    {"type": "progress", "parentToolUseID": "t1",
     "data": {"type": "hook_progress", "hookEvent": "PreToolUse"}},
    {"type": "progress", "data": {"type": "hook_progress", "hookEvent": "Stop"}},
    {"type": "assistant", "message": {"id": "msg_e", "role": "assistant", "stop_reason": "end_turn",
                                      "content": [{"type": "text", "text": "Done."}]}},
    {"type": "assistant", "message": {"id": "msg_n", "role": "assistant", "stop_reason": None,
                                      "content": [{"type": "text", "text": "Let me look."}]}},
    {"type": "assistant", "message": {"id": "msg_k", "role": "assistant",
                                      "content": [{"type": "thinking", "thinking": "hmm"}]}},
    {"type": "system", "subtype": "stop_hook_summary"},
    {"type": "system", "subtype": "compact_boundary", "compactMetadata": {"trigger": "manual"}},
    {"type": "system", "subtype": "api_error"},
    _claude_user("[Request interrupted by user for tool use]"),
    _claude_user("<command-name>/exit</command-name>"),
    _claude_user("<command-name>/model</command-name><command-args>opus</command-args>"),
    _claude_user("<local-command-stdout>ok</local-command-stdout>"),
    {"type": "permission-mode", "permissionMode": "acceptEdits", "sessionId": "s1"},
    {"type": "permission-mode", "permissionMode": "default", "sessionId": "s1"},
    {"type": "queue-operation", "operation": "enqueue"},
    {"type": "queue-operation", "operation": "dequeue"},
    {"type": "attachment", "attachment": {"hookEvent": "Stop"}},
    {"type": "custom-title", "customTitle": "My title", "sessionId": "s1"},
]


def _codex(kind: str, **payload: Any) -> JSONDict:
    return {"type": kind, "payload": payload}


CODEX_LINES: list[JSONDict] = [
    _codex("session_meta", id="019a-thread", cwd="/w/app", git={"branch": "main"}),
    _codex("turn_context", approval_policy="on-request", cwd="/w/app"),
    _codex("turn_context", approval_policy="untrusted"),
    _codex("turn_context", approval_policy="never"),
    _codex("event_msg", type="task_started"),
    _codex("event_msg", type="user_message", message="fix the build"),
    _codex("response_item", type="message", role="user", content=[{"type": "input_text", "text": "fix"}]),
    _codex("response_item", type="function_call", name="exec_command", call_id="c1",
           arguments=json.dumps({"cmd": "rm -rf build", "sandbox_permissions": "require_escalated",
                                 "justification": "clean"})),
    _codex("response_item", type="function_call", name="exec_command", call_id="c3",
           arguments=json.dumps({"cmd": ["ls", "-l"], "yield_time_ms": 1000})),
    _codex("response_item", type="custom_tool_call", name="apply_patch", call_id="c2",
           input="*** Begin Patch\n*** Update File: a.py\n"),
    _codex("response_item", type="function_call_output", call_id="c1", output="ok"),
    _codex("response_item", type="custom_tool_call_output", call_id="c2", output="ok"),
    _codex("event_msg", type="exec_command_end", call_id="c3"),
    _codex("response_item", type="reasoning", summary=[]),
    _codex("event_msg", type="agent_message", message="done", phase="final_answer"),
    _codex("response_item", type="message", role="assistant",
           content=[{"type": "output_text", "text": "ok"}]),
    _codex("event_msg", type="task_complete"),
    _codex("event_msg", type="task_complete", error={"message": "boom"}),
    _codex("event_msg", type="turn_aborted", reason="interrupted"),
    _codex("compacted", message="summary"),
]


def _gemini_call(status: str) -> JSONDict:
    return {"id": "m2", "type": "gemini", "content": "", "toolCalls": [
        {"id": "c1", "name": "run_shell_command", "displayName": "Shell", "status": status,
         "args": {"command": "ls"}}]}


GEMINI_LINES: list[JSONDict] = [
    {"sessionId": "abcdef12-3456", "projectHash": "h", "directories": ["/w/app"]},
    {"id": "m1", "type": "user", "content": [{"text": "fix it"}]},
    _gemini_call("awaiting_approval"),
    _gemini_call("executing"),
    _gemini_call("success"),
    _gemini_call("cancelled"),
    {"id": "m3", "type": "user", "content": [{"functionResponse": {"id": "c1", "name": "x"}}]},
    {"id": "m4", "type": "gemini", "content": "All done."},
    {"id": "m5", "type": "gemini", "content": ""},
    {"id": "m6", "type": "user", "content": "System: Please continue."},
    {"id": "m7", "type": "info", "content": "Running event SessionEnd hooks"},
    {"id": "m8", "type": "error", "content": "quota exceeded"},
    {"$rewindTo": "m2"},
    {"$set": {"lastUpdated": "2025-06-01T12:00:00Z"}},
]
CURSOR_LINES: list[JSONDict] = [
    {"role": "user", "message": {"content": [{"type": "text", "text": "<user_query>fix</user_query>"}]}},
    {"role": "assistant", "message": {"content": [{"type": "text", "text": "Looking."}]}},
    {"role": "assistant", "message": {"content": [
        {"type": "tool_use", "name": "Shell", "input": {"command": "ls /w/my_project/src"}}]}},
    {"type": "turn_ended", "status": "success"},
    {"type": "turn_ended", "status": "error", "error": "User aborted request."},
    {"type": "turn_ended", "status": "error", "error": "rate limited"},
]


def mixed(lines: list[JSONDict], random: st.SearchStrategy[JSONDict]) -> st.SearchStrategy[JSONDict]:
    real = st.sampled_from(lines)
    return st.one_of(real, real, real, random)


# -- the agents ------------------------------------------------------------------------------

infos = st.sampled_from(["session", "subagent", "compaction"]).flatmap(
    lambda role: st.builds(FileInfo, st.just("claude"), st.just("sess"), st.just(role),
                           st.none() | st.just("parent")))


def claude_state(info: FileInfo) -> TranscriptState:
    return ClaudeSource().new_state(info)


def codex_state(info: FileInfo) -> TranscriptState:
    return CodexSource().new_state(info)


def gemini_state(info: FileInfo) -> TranscriptState:
    return GeminiState(info, "proj")


def cursor_state(info: FileInfo) -> TranscriptState:
    return CursorState(info, "w-my-project")


AGENT_CASES: dict[str, tuple[AgentSource, Callable[[FileInfo], TranscriptState], st.SearchStrategy[JSONDict]]]
AGENT_CASES = {
    "claude": (ClaudeSource(), claude_state, mixed(CLAUDE_LINES, claude_records)),
    "codex": (CodexSource(), codex_state, mixed(CODEX_LINES, codex_records)),
    "gemini": (GeminiSource(), gemini_state, mixed(GEMINI_LINES, gemini_records)),
    "cursor": (CursorSource(), cursor_state, mixed(CURSOR_LINES, cursor_records)),
}


LINES = {"claude": CLAUDE_LINES, "codex": CODEX_LINES, "gemini": GEMINI_LINES, "cursor": CURSOR_LINES}


def record_lists(agent: str, max_size: int = 30) -> st.SearchStrategy[list[JSONDict]]:
    """Random records of the agent's types; or its real lines shuffled, some left out,
    with random records slipped in between (the likeliest way to reach every status)."""
    records, lines = AGENT_CASES[agent][2], LINES[agent]

    def interleave(
        order: list[JSONDict], keep: int, extra: list[JSONDict], spots: list[int]
    ) -> list[JSONDict]:
        out = list(order[:keep])
        for rec, spot in zip(extra, spots, strict=False):
            out.insert(spot % (len(out) + 1), rec)
        return out

    shuffled = st.builds(interleave, st.permutations(lines), st.integers(1, len(lines)),
                         st.lists(records, max_size=5), st.lists(st.integers(0, 100), min_size=5, max_size=5))
    return st.one_of(st.lists(records, max_size=max_size), shuffled, shuffled)


def at_of(source: AgentSource, rec: JSONDict, index: int) -> datetime:
    """When a record was written: its own time if it has one, else one second per record."""
    written = source.record_time(rec)
    return written if written is not None else BASE + timedelta(seconds=index)


def safe(text: str) -> bool:
    """No control character, bidirectional override or lone surrogate; encodable."""
    text.encode("utf-8")
    return not any(
        ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
        for c in text
    )


def check_state(state: TranscriptState, agent: str) -> None:
    """A state, asked at many moments with every set of limits, gives a valid verdict."""
    state.has_basis()
    meta = state.meta
    for name in ("cwd", "project", "branch", "title"):
        assert isinstance(getattr(meta, name), str)
    last = state.last_activity or BASE
    moments = [BASE + timedelta(seconds=s) for s in (0, 5, 100_000)]
    moments += [last + timedelta(seconds=s) for s in (0, 0.4, 1, 3, 12, 25, 90, 1200)]
    for now in moments:
        for limits in LIMITS:
            result = classify(state, now, limits)
            assert result.status in STATUSES
            assert isinstance(result.reason, str) and len(result.reason) <= MAX_REASON
            assert safe(result.reason)
            tool = result.pending_tool
            if tool is not None:
                assert len(tool.name) <= MAX_SUMMARY and len(tool.summary) <= MAX_SUMMARY
                assert safe(tool.name) and safe(tool.summary)
            # And as the daemon shows it: every field bounded, every byte encodable.
            session = Session(
                id="s", agent=agent, parent_id=meta.parent_id, project=meta.project,  # type: ignore[arg-type]
                cwd=meta.cwd, branch=meta.branch, title=meta.title, status=result.status,
                status_since=result.since or now, last_activity=state.last_activity or now,
                pending_tool=tool, reason=result.reason,
            )
            json.dumps(session.to_json(), ensure_ascii=False).encode("utf-8")


def feed_all(agent: str, info: FileInfo, records: list[JSONDict]) -> TranscriptState:
    source, make, _ = AGENT_CASES[agent]
    state = make(info)
    for index, rec in enumerate(records, start=1):
        assert isinstance(source.recognises(rec), bool)  # the engine asks before feeding
        state.feed(rec, index if index % 3 else None, at_of(source, rec, index))
    return state


# -- jsonl.decode_line -------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=2000))
def test_decode_line_never_raises_on_any_bytes(raw: bytes) -> None:
    decoded = decode_line(raw)
    assert isinstance(decoded.had_garbage, bool)
    assert all(isinstance(r, dict) for r in decoded.records)


@SETTINGS
@given(st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b"\\", b":", b",", b"1", b"e", b"\x00",
                                 b"\xff", b" ", b"\\ud800", b'{"a":', b"null", b"9" * 50]), max_size=300))
def test_decode_line_never_raises_on_json_like_noise(parts: list[bytes]) -> None:
    decode_line(b"".join(parts))


@SETTINGS
@given(st.lists(st.dictionaries(st.text(max_size=8), any_json, max_size=5), min_size=1, max_size=4),
       st.sampled_from([b"", b" ", b"\x00", b"\t"]), st.booleans())
def test_decode_line_returns_glued_objects_whole(objects: list[JSONDict], gap: bytes, ascii_: bool) -> None:
    raw = gap.join(json.dumps(o, ensure_ascii=ascii_).encode("utf-8", "surrogatepass") for o in objects)
    if not ascii_ and b"\xed" in raw:
        return  # a lone surrogate written raw is invalid UTF-8: not a well-formed line
    decoded = decode_line(raw)
    assert decoded.records == objects
    assert not decoded.had_garbage


@SETTINGS
@given(st.text(st.characters(blacklist_characters='{"\\', blacklist_categories=["Cs"]), max_size=50),
       st.dictionaries(st.text(min_size=1, max_size=8), any_json, min_size=1, max_size=4))
def test_decode_line_finds_an_object_after_garbage(garbage: str, obj: JSONDict) -> None:
    decoded = decode_line(garbage.encode() + json.dumps(obj).encode())
    assert decoded.records[-1:] == [obj]


# -- Tailer and read_tail ------------------------------------------------------------------------

contents = st.lists(
    st.sampled_from([b"\n", b"\n\n", b"{}", b'{"a":1}', b"x" * 70, b"\xff", b"\x00", b"y" * 150, b"z"]),
    max_size=40,
).map(b"".join)


def expected_lines(content: bytes, max_line: int) -> tuple[list[tuple[int, bytes]], list[int]]:
    """Complete lines, and the numbers of those too long (a torn last line that is
    already too long is reported as skipped before its newline comes)."""
    lines, skipped = [], []
    *complete, torn = content.split(b"\n")
    for number, line in enumerate(complete, start=1):
        (skipped.append(number) if len(line) > max_line else lines.append((number, line)))
    if len(torn) > max_line:
        skipped.append(len(complete) + 1)
    return lines, skipped


def split_points(content: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(content) + 1) for c in cuts} | {0, len(content)})
    return [content[a:b] for a, b in itertools.pairwise(points)]


@SETTINGS
@given(contents, st.lists(st.integers(0, 10_000), max_size=12), st.integers(1, 64),
       st.integers(1, 200))
def test_tailer_in_any_chunks_gives_the_lines_of_the_whole_file(
    content: bytes, cuts: list[int], chunk: int, max_batch: int
) -> None:
    max_line = 100
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        path.write_bytes(b"")
        tailer = Tailer(path, chunk=chunk, max_batch=max_batch, max_line=max_line)
        got: list[tuple[int | None, bytes]] = []
        skipped: list[int | None] = []
        for piece in split_points(content, cuts):
            with path.open("ab") as fh:
                fh.write(piece)
            while True:
                batch = tailer.read()
                assert not batch.reset
                got += batch.lines
                skipped += batch.skipped
                if not batch.more:
                    break
        whole = Tailer(path, chunk=4096, max_line=max_line)
        at_once = whole.read()
        lines, too_long = expected_lines(content, max_line)
        assert got == at_once.lines == lines
        assert skipped == at_once.skipped == too_long
        assert tailer.offset == len(content)
        complete = content.rfind(b"\n") + 1
        if len(content) - complete <= max_line:
            assert tailer.committed_offset == complete


@SETTINGS
@given(contents, st.integers(0, 5000))
def test_read_tail_gives_a_suffix_of_the_complete_lines(content: bytes, want: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        path.write_bytes(content)
        tail = read_tail(path, want, max_line=100)
    every = [line for _, line in expected_lines(content, 100)[0]]
    if tail.whole_file and b"\n" in content:
        assert tail.lines == every
    assert every[len(every) - len(tail.lines):] == tail.lines
    if tail.lines:
        # Complete lines only: the tailer goes on from just after the last newline.
        assert tail.end == content.rfind(b"\n") + 1
        assert tail.start >= len(content) - want


# -- the classifiers ---------------------------------------------------------------------------


def classifier_tests(agent: str) -> tuple[Callable[..., None], Callable[..., None], Callable[..., None]]:
    @SETTINGS
    @given(infos, st.lists(st.dictionaries(keys, keyed_json, max_size=8), max_size=20))
    def any_objects(info: FileInfo, objects: list[JSONDict]) -> None:
        check_state(feed_all(agent, info, objects), agent)

    @SETTINGS
    @given(infos, record_lists(agent))
    def known_records_in_any_order(info: FileInfo, recs: list[JSONDict]) -> None:
        check_state(feed_all(agent, info, recs), agent)

    @FEW
    @given(infos, record_lists(agent, 25).flatmap(
        lambda recs: st.lists(st.binary(max_size=30), max_size=3).map(lambda junk: [*recs, *junk])
    ).flatmap(st.permutations),
           st.lists(st.integers(0, 100_000), max_size=10), st.integers(1, 300))
    def chunked_like_whole(
        info: FileInfo, items: list[JSONDict | bytes], cuts: list[int], chunk: int
    ) -> None:
        # A transcript file: records as JSON lines, with raw garbage lines among them.
        content = b"".join(
            (i if isinstance(i, bytes) else json.dumps(i).encode()).replace(b"\n", b" ") + b"\n"
            for i in items
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "t.jsonl"
            path.write_bytes(b"")
            split = Tailer(path, chunk=chunk, max_batch=chunk * 3)
            split_lines: list[tuple[int | None, bytes]] = []
            for piece in split_points(content, cuts):
                with path.open("ab") as fh:
                    fh.write(piece)
                while True:
                    batch = split.read()
                    split_lines += batch.lines
                    if not batch.more:
                        break
            whole_lines = Tailer(path).read().lines
        assert split_lines == whole_lines
        a, b = (feed_lines(agent, info, lines) for lines in (split_lines, whole_lines))
        last = a.last_activity or BASE
        for now in (BASE, last, last + timedelta(seconds=1), last + timedelta(seconds=3),
                    last + timedelta(seconds=100_000)):
            assert classify(a, now, LIMITS[1]) == classify(b, now, LIMITS[1])
        assert a.meta == b.meta
        check_state(a, agent)

    return any_objects, known_records_in_any_order, chunked_like_whole


def feed_lines(agent: str, info: FileInfo, lines: list[tuple[int | None, bytes]]) -> TranscriptState:
    source, make, _ = AGENT_CASES[agent]
    state = make(info)
    for number, raw in lines:
        for rec in decode_line(raw).records:
            state.feed(rec, number, at_of(source, rec, number or 0))
    return state


(test_claude_any_objects, test_claude_known_records_in_any_order,
 test_claude_chunked_like_whole) = classifier_tests("claude")
(test_codex_any_objects, test_codex_known_records_in_any_order,
 test_codex_chunked_like_whole) = classifier_tests("codex")
(test_gemini_any_objects, test_gemini_known_records_in_any_order,
 test_gemini_chunked_like_whole) = classifier_tests("gemini")
(test_cursor_any_objects, test_cursor_known_records_in_any_order,
 test_cursor_chunked_like_whole) = classifier_tests("cursor")


@FEW
@given(st.lists(st.binary(max_size=200) | st.just(b"\n"), max_size=10), st.sampled_from([".jsonl", ".json"]))
def test_inspect_any_file_gives_a_status_or_one_sentence(chunks: list[bytes], suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"session-x{suffix}"
        path.write_bytes(b"".join(chunks))
        os.utime(path, (BASE.timestamp(), BASE.timestamp()))
        try:
            result = inspect_file(path, now=BASE + timedelta(seconds=30))
        except InspectError as exc:
            assert str(exc).endswith(".")
            return
    assert result.status in STATUSES
    assert len(result.reason) <= MAX_REASON


@FEW
@given(st.data())
def test_inspect_any_known_records_gives_a_status(data: st.DataObject) -> None:
    agent = data.draw(st.sampled_from(list(AGENT_CASES)))
    recs = data.draw(record_lists(agent, 15))
    # Only files the agent's rules recognise: those must give a status. (Before, an
    # InspectError returned early, so the test could pass on no recognised file at all;
    # now, if most drawn lists were unrecognisable, hypothesis fails its health check.)
    assume(any(AGENT_CASES[agent][0].recognises(r) for r in recs))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session-2025-01-01T00-00-abcdef12.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
        result = inspect_file(path, now=BASE + timedelta(seconds=30))
    assert result.status in STATUSES
    assert len(result.reason) <= MAX_REASON


path_parts = st.lists(
    st.sampled_from(["chats", "subagents", "workflows", "agent-transcripts", "2025", "01", "02",
                     "session-2025-01-01T00-00-abcdef12.jsonl", "agent-a1.jsonl", "agent-acompact-1.jsonl",
                     "rollout-2025-01-01T00-00-00-0199a213-81c0-7800-8aba-cb7a7aaefa1a.jsonl",
                     "s.jsonl", "journal.jsonl", "x.json", "..", "."])
    | st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=12),
    max_size=7,
)


@SETTINGS
@given(path_parts)
def test_identify_never_raises_on_any_path_under_a_root(parts: list[str]) -> None:
    root = Path("/r/root")
    for source, _, _ in AGENT_CASES.values():
        info = source.identify(root.joinpath(*parts), root)
        if info is not None:
            assert info.agent == source.agent and isinstance(info.session_id, str)
            source.new_state(info)
        assert source.identify(Path("/elsewhere").joinpath(*parts), root) is None


hook_payloads = st.fixed_dictionaries({}, optional={
    "hook_event_name": st.sampled_from([
        "PreToolUse", "PostToolUse", "Notification", "Stop", "SubagentStop", "SessionStart", "SessionEnd",
        "UserPromptSubmit", "PermissionRequest", "BeforeTool", "AfterAgent", "beforeShellExecution",
        "stop", "afterAgentResponse", "PreCompact"]) | texts,
    "session_id": ids, "conversation_id": ids, "thread-id": ids, "type": texts, "cwd": texts,
    "tool_name": tool_names, "tool_input": any_json, "message": texts, "prompt": texts,
    "notification_type": st.sampled_from(["permission_prompt", "idle_prompt"]) | texts,
    "workspace_roots": st.lists(texts, max_size=2), "command": texts, "status": texts,
    "transcript_path": texts, "reason": texts,
})


@SETTINGS
@given(st.sampled_from(AGENTS), hook_payloads | st.dictionaries(st.text(max_size=10), any_json, max_size=6))
def test_parse_hook_never_raises(agent: str, payload: JSONDict) -> None:
    signal = parse_hook(agent, payload, BASE)
    if signal is not None:
        assert signal.status is None or signal.status in STATUSES
