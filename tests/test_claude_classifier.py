"""The Claude Code classifier on small synthetic transcripts, one rule at a time.

Each record list mimics the shapes of ../shared/corpus/claude (see agent-formats.md §1);
times are seconds after T0. Real corpus files are exercised in test_corpus_claude.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sessiond.protocol import MAX_SUMMARY, MAX_TITLE, JSONDict
from sessiond.read.jsonl import decode_line
from sessiond.sources.base import FileInfo, Thresholds, Verdict, classify
from sessiond.sources.claude.transcript import (
    MARKED_SETTLE,
    SLOW_TOOL_FACTOR,
    STREAMING_FACTOR,
    ClaudeSource,
    ClaudeState,
)

T0 = datetime(2026, 2, 3, 10, 0, 0, tzinfo=UTC)
SESSION = FileInfo("claude", "s-1")
LIMITS = Thresholds()
APPROVAL = LIMITS.approval_after.total_seconds()
_ids = itertools.count(1)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _envelope(kind: str, **extra: Any) -> JSONDict:
    record: JSONDict = {
        "type": kind,
        "uuid": f"u-{next(_ids)}",
        "parentUuid": None,
        "isSidechain": False,
        "sessionId": "s-1",
        "cwd": "/home/ada/work/sessiond",
        "gitBranch": "main",
        "version": "2.1.38",
    }
    record.update(extra)
    return record


def user(content: Any, **extra: Any) -> JSONDict:
    return _envelope("user", message={"role": "user", "content": content}, **extra)


def prompt(text: str = "fix the tests", mode: str | None = None, **extra: Any) -> JSONDict:
    if mode is not None:
        extra["permissionMode"] = mode
    return user(text, **extra)


def result(tool_id: str, content: str = "ok", is_error: bool = False) -> JSONDict:
    block = {"type": "tool_result", "tool_use_id": tool_id, "content": content}
    return user([block | {"is_error": is_error}])


def assistant(*blocks: JSONDict, stop: str | None = None, mid: str = "msg-1", **extra: Any) -> JSONDict:
    message = {"id": mid, "role": "assistant", "content": list(blocks), "stop_reason": stop}
    message.update(extra.pop("message_extra", {}))
    return _envelope("assistant", message=message, **extra)


def text(value: str = "Done.", **kw: Any) -> JSONDict:
    return assistant({"type": "text", "text": value}, **kw)


def thinking(**kw: Any) -> JSONDict:
    return assistant({"type": "thinking", "thinking": "hmm"}, **kw)


def tool(name: str, tool_id: str, mid: str = "msg-1", **tool_input: Any) -> JSONDict:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
    return assistant(block, mid=mid)


def progress(kind: str, tool_id: str, **data: Any) -> JSONDict:
    return _envelope(
        "progress",
        data={"type": kind, **data},
        parentToolUseID=tool_id,
        toolUseID=f"{kind}-0",
    )


def hook(event: str, tool_id: str = "hook-1", name: str | None = None) -> JSONDict:
    return progress("hook_progress", tool_id, hookEvent=event, hookName=name or event)


def system(subtype: str, **extra: Any) -> JSONDict:
    return _envelope("system", subtype=subtype, **extra)


def feed(records: Sequence[tuple[float, JSONDict]], info: FileInfo = SESSION) -> ClaudeState:
    state = ClaudeSource().new_state(info)
    for line_no, (seconds, record) in enumerate(records, start=1):
        state.feed(record, line_no, t(seconds))
    return state


def at(state: ClaudeState, seconds: float, limits: Thresholds = LIMITS) -> Verdict:
    return state.verdict(t(seconds), limits)


def started(tool_name: str = "Bash", mode: str = "default", **tool_input: Any) -> ClaudeState:
    """A prompt at 0 s, then one tool call at 10 s (line 2, id "t1")."""
    tool_input = tool_input or {"command": "git push origin main"}
    return feed([(0, prompt(mode=mode)), (10, tool(tool_name, "t1", **tool_input))])


# -- the basics -----------------------------------------------------------------------


def test_nothing_fed_waits_for_the_first_prompt() -> None:
    state = feed([])
    assert not state.has_basis()
    assert at(state, 0).status == "waiting_for_input"


def test_bookkeeping_alone_is_no_basis() -> None:
    state = feed(
        [
            (0, {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}}),
            (0, {"type": "permission-mode", "permissionMode": "default", "sessionId": "s-1"}),
            (0, {"type": "queue-operation", "operation": "dequeue", "timestamp": "x"}),
        ]
    )
    assert not state.has_basis()


def test_a_real_prompt_is_working() -> None:
    state = feed([(0, prompt())])
    assert state.has_basis()
    v = at(state, 30)
    assert (v.status, v.since, v.recheck_at) == ("working", t(0), None)
    assert v.reason.startswith("line 1:")


def test_session_start_hook_waits_for_the_first_prompt() -> None:
    # be-84e84641f3 L1–3: SessionStart hooks before anything is typed.
    state = feed([(0, hook("SessionStart", name="SessionStart:startup"))])
    assert state.has_basis()
    assert at(state, 5).status == "waiting_for_input"


def test_a_resume_ends_a_stale_turn() -> None:
    # 37-995ebed6e4-2 L128 reply, L132 SessionStart:resume hours later.
    state = feed([(0, prompt()), (5, text()), (9000, hook("SessionStart", name="SessionStart:resume"))])
    assert at(state, 9001).status == "waiting_for_input"


def test_compact_session_start_hook_is_not_a_restart() -> None:
    state = feed([(0, prompt()), (5, hook("SessionStart", name="SessionStart:compact"))])
    assert at(state, 6).status == "working"


# -- turn ends --------------------------------------------------------------------------


def test_text_with_end_turn_waits_at_once() -> None:
    state = feed([(0, prompt()), (5, text(stop="end_turn"))])
    v = at(state, 5)
    assert (v.status, v.since) == ("waiting_for_input", t(5))
    assert "end_turn" in v.reason and v.reason.startswith("line 2:")


def test_text_with_null_stop_reason_settles() -> None:
    state = feed([(0, prompt()), (5, text())])
    before = at(state, 6)
    assert before.status == "working"
    assert before.recheck_at == t(5) + LIMITS.settle_after
    after = at(state, 5 + LIMITS.settle_after.total_seconds())
    assert (after.status, after.since) == ("waiting_for_input", t(5))


def test_settle_counts_from_the_last_write() -> None:
    snapshot = {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}}
    state = feed([(0, prompt()), (5, text()), (6.5, snapshot)])
    v = at(state, 7.5)
    assert v.status == "working"
    assert v.recheck_at == t(6.5) + LIMITS.settle_after


def test_text_before_a_tool_call_does_not_settle_once_stop_hooks_are_known() -> None:
    # Files whose turns end with Stop-hook lines wait for one (ec-38b74f08e3 L11→L13).
    state = feed(
        [
            (0, prompt()),
            (5, text(mid="a")),
            (6, system("stop_hook_summary")),
            (10, prompt("next")),
            (12, text("The parser is next.", mid="b")),
        ]
    )
    v = at(state, 30)
    assert v.status == "working"
    assert v.recheck_at == t(12) + MARKED_SETTLE
    assert at(state, 12 + MARKED_SETTLE.total_seconds()).status == "waiting_for_input"


def test_text_with_tool_use_stop_reason_is_working() -> None:
    state = feed([(0, prompt()), (5, text(stop="tool_use"))])
    assert at(state, 60).status == "working"


def test_trailing_thinking_is_working() -> None:
    state = feed([(0, prompt()), (5, thinking())])
    v = at(state, 100)
    assert (v.status, v.recheck_at) == ("working", None)


@pytest.mark.parametrize(
    "last",
    [
        system("stop_hook_summary", hookCount=1),
        system("turn_duration", durationMs=31000),
        hook("Stop"),
        _envelope("attachment", attachment={"type": "hook_success", "hookEvent": "Stop"}),
        text("API Error: 529 overloaded", message_extra={"model": "<synthetic>"}, isApiErrorMessage=True),
        text("No response requested.", stop="stop_sequence", message_extra={"model": "<synthetic>"}),
    ],
    ids=["stop_hook_summary", "turn_duration", "stop_hook", "stop_attachment", "api_error", "synthetic"],
)
def test_turn_end_markers_wait_for_input(last: JSONDict) -> None:
    state = feed([(0, prompt()), (3, thinking()), (5, last)])
    v = at(state, 5)
    assert (v.status, v.since) == ("waiting_for_input", t(5))
    assert v.reason.startswith("line 3:")


def test_stop_hook_ends_the_turn_before_the_final_text_is_flushed() -> None:
    # 00-c9e2351016-3 L50 thinking, L51 Stop hook_progress.
    state = feed([(0, prompt()), (3, thinking()), (4, hook("Stop"))])
    assert at(state, 4.1).status == "waiting_for_input"


def test_subagent_stop_in_the_main_file_is_not_the_main_turn() -> None:
    state = feed([(0, prompt()), (3, thinking()), (4, hook("SubagentStop"))])
    assert at(state, 4.1).status == "working"


def test_trailing_bookkeeping_is_skipped() -> None:
    # 24-44cdc4a359 L20–22: stop_hook_summary, then last-prompt and permission-mode.
    state = feed(
        [
            (0, prompt()),
            (5, system("stop_hook_summary")),
            (5, {"type": "last-prompt", "lastPrompt": "x", "sessionId": "s-1"}),
            (5, {"type": "permission-mode", "permissionMode": "acceptEdits", "sessionId": "s-1"}),
            (5, {"type": "custom-title", "customTitle": "t", "sessionId": "s-1"}),
        ]
    )
    v = at(state, 6)
    assert v.status == "waiting_for_input" and v.reason.startswith("line 2:")


def test_api_error_retry_is_working() -> None:
    state = feed([(0, prompt()), (5, system("api_error", retryInMs=500, retryAttempt=1))])
    assert at(state, 60).status == "working"


# -- user lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "interrupt", ["[Request interrupted by user]", "[Request interrupted by user for tool use]"]
)
def test_interrupts_wait_for_input(interrupt: str) -> None:
    state = feed(
        [
            (0, prompt()),
            (10, tool("Bash", "t1", command="make")),
            (12, result("t1", "The user doesn't want to proceed with this tool use.", True)),
            (12, user([{"type": "text", "text": interrupt}])),
        ]
    )
    v = at(state, 13)
    assert (v.status, v.pending_tool) == ("waiting_for_input", None)
    assert "interrupted" in v.reason


def test_a_rejection_that_tells_claude_what_to_do_goes_on() -> None:
    # b0-be9accda39 L8: "…the user said: …", and the turn continues.
    state = feed(
        [
            (0, prompt()),
            (1, tool("Write", "t1", file_path="/x/LICENSE")),
            (50, result("t1", "The user doesn't want to proceed… the user said: use 2026", True)),
        ]
    )
    assert at(state, 51).status == "working"


def test_a_tool_result_is_working() -> None:
    state = feed([(0, prompt()), (1, tool("Read", "t1", file_path="/a")), (2, result("t1"))])
    v = at(state, 30)
    assert (v.status, v.pending_tool) == ("working", None)


def test_a_prompt_blocked_by_a_hook_waits() -> None:
    # 00-c9e2351016-3 L6.
    state = feed([(0, prompt()), (1, user("Operation stopped by hook: Another session is active"))])
    assert at(state, 2).status == "waiting_for_input"


def test_meta_lines_change_nothing() -> None:
    state = feed([(0, prompt()), (5, text(stop="end_turn")), (6, user("<system-reminder>x", isMeta=True))])
    v = at(state, 7)
    assert v.status == "waiting_for_input" and v.reason.startswith("line 2:")


def test_local_slash_command_waits() -> None:
    # 42-527c9c20c8 L4–6: caveat (isMeta), the command, its stdout.
    state = feed(
        [
            (0, user("<local-command-caveat>Caveat: …</local-command-caveat>", isMeta=True)),
            (0, user("<command-name>/model</command-name>\n<command-message>model</command-message>")),
            (0, user("<local-command-stdout>Set model to Opus</local-command-stdout>")),
        ]
    )
    v = at(state, 0.5)
    assert v.status == "waiting_for_input" and "local command" in v.reason


def test_a_lone_slash_command_settles() -> None:
    state = feed([(0, user("<command-name>/ide</command-name>"))])
    assert at(state, 1).status == "working"
    assert at(state, 1 + LIMITS.settle_after.total_seconds()).status == "waiting_for_input"


def test_a_prompt_slash_command_works() -> None:
    # 1af7fc5e L1–2: /init, then its expanded prompt as an isMeta line.
    state = feed(
        [
            (0, user("<command-message>init…</command-message>\n<command-name>/init</command-name>")),
            (0, user([{"type": "text", "text": "Please analyze this codebase"}], isMeta=True)),
        ]
    )
    v = at(state, 30)
    assert v.status == "working" and v.reason.startswith("line 2:")


def test_system_local_command_waits() -> None:
    # short L14–15.
    state = feed(
        [
            (0, prompt()),
            (5, text(stop="end_turn")),
            (9, system("local_command", content="<command-name>/model</command-name>")),
            (9, system("local_command", content="<local-command-stdout>Kept model</local-command-stdout>")),
        ]
    )
    v = at(state, 10)
    assert v.status == "waiting_for_input" and v.reason.startswith("line 4:")


def test_task_notification_starts_a_new_turn_and_is_no_title() -> None:
    state = feed([(0, user("<task-notification>agent a1 finished</task-notification>"))])
    assert at(state, 30).status == "working"
    assert state.meta.title == ""


@pytest.mark.parametrize("command", ["/exit", "/quit"])
def test_exit_ends_the_session(command: str) -> None:
    # c6-39a44ea03d L20–22.
    state = feed(
        [
            (0, prompt()),
            (5, system("stop_hook_summary")),
            (9, user("<local-command-caveat>Caveat</local-command-caveat>", isMeta=True)),
            (9, user(f"<command-name>{command}</command-name>\n<command-args></command-args>")),
            (9, user("<local-command-stdout>Catch you later!</local-command-stdout>")),
        ]
    )
    v = classify(state, t(10), LIMITS)
    assert (v.status, v.since) == ("ended", t(9))
    assert command in v.reason
    assert classify(state, t(10_000), LIMITS).status == "ended"  # never turns idle


def test_a_session_resumed_after_exit_lives_again() -> None:
    # a6-e4c2a0fbd1 L4–5 /exit, L8 a new prompt.
    state = feed([(0, user("<command-name>/exit</command-name>")), (300, prompt("go on"))])
    assert at(state, 301).status == "working"


# -- pending tools and the approval guess ----------------------------------------------


def test_pending_bash_is_working_before_approval_after() -> None:
    state = started("Bash", command="git push origin main")
    v = at(state, 10 + APPROVAL - 0.5)
    assert v.status == "working"
    assert v.recheck_at == t(10) + LIMITS.approval_after
    assert v.pending_tool is not None and v.pending_tool.summary == "git push origin main"


def test_pending_bash_without_progress_waits_for_approval() -> None:
    state = started("Bash", command="git push origin main")
    v = at(state, 10 + APPROVAL + 1)
    assert v.status == "waiting_for_approval"
    assert v.since == t(10) + LIMITS.approval_after
    assert v.pending_tool is not None and v.pending_tool.name == "Bash"
    assert v.reason == "line 2: Bash pending 5 s, no progress (likely: no hooks)"
    assert classify(state, t(15), LIMITS).pending_tool == v.pending_tool


def test_bash_progress_proves_it_runs() -> None:
    # 9b-04c3d92e38-1 L160–163: bash_progress at +2, +3, +4 s.
    state = started("Bash", command="mise run test")
    state.feed(progress("bash_progress", "t1", elapsedTimeSeconds=2), 3, t(12))
    for seconds in (13, 60, 600):  # even when progress pauses, it is still running
        v = at(state, seconds)
        assert (v.status, v.recheck_at) == ("working", None)
        assert v.pending_tool is not None


def test_late_progress_ends_an_approval_guess() -> None:
    # 60-fd31fcf44f L90–91: first bash_progress 80 s after the tool_use.
    state = started("Bash", command="go test ./...")
    assert at(state, 20).status == "waiting_for_approval"
    state.feed(progress("bash_progress", "t1"), 3, t(90))
    assert at(state, 91).status == "working"


@pytest.mark.parametrize("kind", ["agent_progress", "mcp_progress"])
def test_other_progress_is_evidence_too(kind: str) -> None:
    state = started("mcp__github__create_pr", title="x")
    state.feed(progress(kind, "t1"), 3, t(11))
    assert at(state, 100).status == "working"


def test_pre_tool_use_hook_is_no_evidence_but_restarts_the_clock() -> None:
    # subagent L72–76: PreToolUse hooks at +0 s, the approved result 25 s later.
    state = started("Bash", command="bd create")
    state.feed(hook("PreToolUse", "t1"), 3, t(12))
    assert at(state, 12 + APPROVAL - 0.1).status == "working"
    v = at(state, 12 + APPROVAL)
    assert (v.status, v.since) == ("waiting_for_approval", t(12) + LIMITS.approval_after)


def test_post_tool_use_hook_means_it_ran() -> None:
    state = started("Edit", file_path="/a.py")
    state.feed(hook("PostToolUse", "t1"), 3, t(10.1))
    assert at(state, 30).status == "working"


def test_bypass_permissions_never_prompts() -> None:
    state = started("Bash", mode="bypassPermissions")
    v = at(state, 100)
    assert (v.status, v.recheck_at) == ("working", None)


@pytest.mark.parametrize("mode", ["auto", "dontAsk"])
def test_modes_without_prompts(mode: str) -> None:
    assert at(started("Bash", mode=mode), 100).status == "working"


@pytest.mark.parametrize("name", ["Edit", "Write", "MultiEdit", "NotebookEdit"])
def test_accept_edits_lets_edits_through(name: str) -> None:
    state = started(name, mode="acceptEdits", file_path="/repo/a.py")
    assert at(state, 100).status == "working"


def test_accept_edits_still_prompts_for_bash() -> None:
    # 4c-70d9b5734c L223, L230: acceptEdits, Bash git commit pending.
    state = started("Bash", mode="acceptEdits", command="git commit -m x")
    assert at(state, 20).status == "waiting_for_approval"


@pytest.mark.parametrize("name", ["Edit", "Write"])
def test_edits_prompt_under_default(name: str) -> None:
    # 00-c9e2351016-3 L28 Edit waits 125 s; b0-be9accda39 L7 Write waits 50 s.
    v = at(started(name, file_path="/repo/a.go"), 10 + APPROVAL)
    assert v.status == "waiting_for_approval"
    assert v.pending_tool is not None and v.pending_tool.summary == "/repo/a.go"


@pytest.mark.parametrize(
    "name", ["Read", "Glob", "Grep", "LS", "TodoWrite", "TaskCreate", "TaskUpdate", "Skill", "Frobnicate"]
)
def test_tools_that_do_not_prompt(name: str) -> None:
    v = at(started(name, pattern="x"), 100)
    assert (v.status, v.recheck_at) == ("working", None)


def test_exit_plan_mode_always_asks() -> None:
    # subagent L67, approved at L68 after 110 s.
    state = started("ExitPlanMode", mode="bypassPermissions", plan="# Setup beads\n\nsteps")
    v = at(state, 10 + APPROVAL)
    assert v.status == "waiting_for_approval"
    assert v.pending_tool is not None and v.pending_tool.summary == "Setup beads"


def test_permission_mode_lines_change_the_mode() -> None:
    state = feed(
        [
            (0, prompt(mode="default")),
            (1, {"type": "permission-mode", "permissionMode": "bypassPermissions", "sessionId": "s-1"}),
            (10, tool("Bash", "t1", command="rm -rf build")),
        ]
    )
    assert at(state, 100).status == "working"


def test_the_latest_user_mode_counts() -> None:
    state = feed(
        [
            (0, prompt(mode="acceptEdits")),
            (1, text(stop="end_turn")),
            (5, prompt("again", mode="default")),
            (10, tool("Edit", "t1", file_path="/a")),
        ]
    )
    assert at(state, 20).status == "waiting_for_approval"


def test_infer_approval_off_never_guesses() -> None:
    limits = Thresholds(infer_approval=False)
    v = at(started("Bash"), 1000, limits)
    assert (v.status, v.recheck_at) == ("working", None)
    assert v.pending_tool is not None and v.pending_tool.name == "Bash"


def test_recheck_follows_approval_after() -> None:
    limits = Thresholds(approval_after=timedelta(seconds=1))
    state = started("Edit", file_path="/a")
    assert at(state, 10.5, limits).recheck_at == t(11)
    assert at(state, 11, limits).status == "waiting_for_approval"


@pytest.mark.parametrize("name", ["WebFetch", "WebSearch", "mcp__linear__create_issue"])
def test_slow_tools_without_progress_wait_longer(name: str) -> None:
    # A WebFetch takes seconds and reports nothing (subagent L9 → L13: 5 s).
    state = started(name, url="https://example.com")
    slow = LIMITS.approval_after * SLOW_TOOL_FACTOR
    v = at(state, 10 + APPROVAL + 1)
    assert (v.status, v.recheck_at) == ("working", t(10) + slow)
    assert at(state, 10 + slow.total_seconds()).status == "waiting_for_approval"


@pytest.mark.parametrize(
    ("version", "factor"),
    [("2.1.7", SLOW_TOOL_FACTOR), ("2.0.76", SLOW_TOOL_FACTOR), ("1.0.108", SLOW_TOOL_FACTOR),
     ("2.1.119", SLOW_TOOL_FACTOR), ("2.1.12", 1), ("2.1.81", 1), (None, 1)],
)  # fmt: skip
def test_bash_waits_longer_in_versions_without_bash_progress(version: str | None, factor: int) -> None:
    # §1.4: bash_progress exists only in 2.1.12 → 2.1.81; elsewhere a running Bash is silent.
    lines = [prompt(), tool("Bash", "t1", command="make test")]
    for line in lines:
        line.pop("version") if version is None else line.update(version=version)
    state = feed([(0, lines[0]), (10, lines[1])])
    due = t(10) + LIMITS.approval_after * factor
    assert at(state, 10.5).recheck_at == due


def test_bash_progress_seen_in_the_file_overrides_the_version() -> None:
    line = tool("Bash", "t1", command="make", mid="a")
    state = feed(
        [
            (0, prompt(version="2.1.99")),
            (1, line | {"version": "2.1.99"}),
            (3, progress("bash_progress", "t1")),
            (4, result("t1")),
            (5, tool("Bash", "t2", mid="b", command="git push") | {"version": "2.1.99"}),
        ]
    )
    assert at(state, 5 + APPROVAL).status == "waiting_for_approval"


def test_ask_user_question_waits_for_input() -> None:
    # subagent L33, answered at L34 after 135 s.
    questions = [{"question": "Which rig do these beads belong to?", "options": []}]
    state = started("AskUserQuestion", questions=questions)
    v = at(state, 10.1)
    assert (v.status, v.since) == ("waiting_for_input", t(10))
    assert v.pending_tool is not None and v.pending_tool.summary == questions[0]["question"]
    assert "AskUserQuestion" in v.reason
    # The question asked stays on the session: the panel and the toast show it.
    assert classify(state, t(11), LIMITS).pending_tool == v.pending_tool


@pytest.mark.parametrize("name", ["Task", "Agent"])
def test_subagent_tools_are_working(name: str) -> None:
    # 4c-02af2759b6 ends right after its Task tool_use (L6).
    state = started(name, description="Explore session code", prompt="…")
    v = at(state, 300)
    assert (v.status, v.recheck_at) == ("working", None)
    assert v.pending_tool is not None and v.pending_tool.summary == "Explore session code"


def test_agent_progress_keeps_a_task_working() -> None:
    # 71-69f9710768 L130–158.
    state = started("Task", description="Code review")
    state.feed(progress("agent_progress", "t1", agentId="a1"), 3, t(12))
    assert at(state, 100).status == "working"


def test_tools_run_one_after_another() -> None:
    # subagent L77, L81 (one message), L82: the second Bash only starts after the first.
    state = feed(
        [
            (0, prompt()),
            (10, tool("Bash", "t1", command="bd create a")),
            (12, tool("Bash", "t2", command="bd create b")),
        ]
    )
    # Two calls of one message, stop_reason null: more may be streaming, so no prompt is
    # assumed before STREAMING_FACTOR × approval_after.
    assert at(state, 20).status == "working"
    v = at(state, 10 + (LIMITS.approval_after * STREAMING_FACTOR).total_seconds() + 1)
    assert v.status == "waiting_for_approval" and v.reason.startswith("line 2:")
    state.feed(result("t1"), 4, t(60))
    v = at(state, 61)
    assert (v.status, v.recheck_at) == ("working", t(60) + LIMITS.approval_after)
    assert at(state, 60 + APPROVAL).reason.startswith("line 3: Bash pending")


def test_a_running_tool_holds_the_ones_behind_it() -> None:
    state = feed(
        [
            (0, prompt()),
            (10, tool("Bash", "t1", command="make")),
            (11, tool("Bash", "t2", command="git push")),
            (12, progress("bash_progress", "t1")),
        ]
    )
    assert at(state, 40).status == "working"


def test_a_new_api_call_drops_unanswered_tool_uses() -> None:
    state = feed(
        [
            (0, prompt()),
            (1, tool("Bash", "t1", mid="a", command="x")),
            (2, thinking(mid="b")),
        ]
    )
    v = at(state, 100)
    assert (v.status, v.pending_tool) == ("working", None)


def test_a_new_prompt_clears_pending_tools() -> None:
    state = feed([(0, prompt()), (1, tool("Bash", "t1", command="x")), (50, prompt("again"))])
    assert at(state, 100).pending_tool is None


def test_pending_tools_are_bounded() -> None:
    records = [(0.0, prompt())] + [(1.0, tool("Read", f"t{i}", file_path="/a")) for i in range(500)]
    state = feed(records)
    assert len(state._pending) <= 64


# -- compaction, queue, sidechains, dedup --------------------------------------------------


def test_compaction_keeps_one_working_session() -> None:
    # a6-e4c2a0fbd1 L31–32.
    state = feed(
        [
            (0, prompt()),
            (60, system("compact_boundary", compactMetadata={"trigger": "auto", "preTokens": 155250})),
            (60, user("This session is being continued from a previous…", isCompactSummary=True)),
        ]
    )
    assert at(state, 61).status == "working"
    assert at(state, 200).status == "working"
    assert state.meta.session_id == "s-1"
    assert state.meta.title == "fix the tests"  # the summary is no prompt


def test_compact_boundary_alone_is_working() -> None:
    state = feed([(0, prompt()), (5, system("compact_boundary", compactMetadata={"trigger": "auto"}))])
    assert at(state, 50).status == "working"


def test_a_manual_compaction_settles() -> None:
    state = feed(
        [
            (0, system("compact_boundary", compactMetadata={"trigger": "manual"})),
            (0, user("This session is being continued…", isCompactSummary=True)),
        ]
    )
    assert at(state, 0.5).status == "working"
    assert at(state, 0 + LIMITS.settle_after.total_seconds()).status == "waiting_for_input"


def test_queued_input_keeps_it_working() -> None:
    enqueue = {"type": "queue-operation", "operation": "enqueue", "content": "also add tests"}
    state = feed([(0, prompt()), (3, enqueue), (5, system("stop_hook_summary"))])
    v = at(state, 6)
    assert v.status == "working" and "queued" in v.reason
    state.feed({"type": "queue-operation", "operation": "dequeue"}, 4, t(6))
    assert at(state, 7).status == "waiting_for_input"


def test_removed_queue_entries_do_not_count() -> None:
    # 71-69f9710768 L96 enqueue, L112 remove.
    ops = [{"type": "queue-operation", "operation": op} for op in ("enqueue", "remove")]
    state = feed([(0, prompt()), (1, ops[0]), (2, ops[1]), (5, text(stop="end_turn"))])
    assert at(state, 6).status == "waiting_for_input"


def test_inline_sidechain_lines_never_decide() -> None:
    # 5c0375b4 L12–23 (1.0.108): a subagent's lines, inline, while the Task runs.
    side: dict[str, Any] = {"isSidechain": True, "version": "1.0.108"}
    state = feed(
        [
            (0, prompt()),
            (1, tool("Task", "t1", description="Check package.json")),
            (2, user("Examine the package.json files") | side),
            (3, tool("Bash", "s1", mid="side", command="ls") | side),
            (30, text("Summary", stop="end_turn", mid="side2") | side),
        ]
    )
    v = at(state, 31)
    assert v.status == "working" and v.pending_tool is not None
    assert v.pending_tool.name == "Task"


def test_duplicate_uuids_are_dropped() -> None:
    # 37-995ebed6e4-2 L128 vs L131: a resume re-writes the last assistant entry.
    reply = text("Done.")
    state = feed([(0, prompt()), (5, reply), (100, prompt("more")), (101, dict(reply))])
    assert at(state, 200).status == "working"


def test_the_uuid_window_is_bounded() -> None:
    state = feed([(float(i), prompt(f"p{i}")) for i in range(5000)])
    assert len(state._seen) <= 2048


def test_glued_objects_are_split_by_jsonl_then_fed() -> None:
    # 37-995ebed6e4-2 L128: {…assistant…}{"type":"summary",…} on one line.
    summary = {"type": "summary", "summary": "Logs", "leafUuid": "x"}
    glued = json.dumps(text(stop="end_turn")) + json.dumps(summary)
    decoded = decode_line(glued.encode() + b"\n")
    assert len(decoded.records) == 2
    state = feed([(0, prompt())] + [(5, r) for r in decoded.records])
    assert at(state, 6).status == "waiting_for_input"
    assert state.meta.title == "Logs"


# -- subagent and compaction files --------------------------------------------------------


def _subagent_lines(agent_id: str = "aac57f5") -> list[tuple[float, JSONDict]]:
    side = {"isSidechain": True, "agentId": agent_id, "sessionId": "parent-1"}
    return [
        (0, user("Search hex.pm for versions") | side),
        (2, tool("WebSearch", "w1", query="opentelemetry") | side),
        (6, result("w1") | side),
        (9, text("Versions: …") | side),
    ]


def test_a_finished_subagent_has_ended() -> None:
    info = FileInfo("claude", "agent-aac57f5", role="subagent", parent_id="parent-1")
    state = feed(_subagent_lines(), info)
    assert at(state, 10).status == "working"
    v = at(state, 9 + MARKED_SETTLE.total_seconds())
    assert v.status == "ended" and "subagent" in v.reason
    assert (state.meta.session_id, state.meta.parent_id) == ("agent-aac57f5", "parent-1")
    assert state.meta.title == "Search hex.pm for versions"


def test_a_subagent_told_by_content_only() -> None:
    # Offline (`sessiond inspect` on a copy), or a 2.0.x agent-<id>.jsonl beside sessions.
    state = feed(_subagent_lines("b12"))
    assert (state.meta.session_id, state.meta.parent_id) == ("agent-b12", "parent-1")
    assert at(state, 1000).status == "ended"


def test_a_beside_session_subagent_gets_its_parent_from_its_lines() -> None:
    info = FileInfo("claude", "agent-b12", role="subagent")
    state = feed(_subagent_lines("b12"), info)
    assert state.meta.parent_id == "parent-1"


def test_a_subagent_can_wait_for_approval() -> None:
    info = FileInfo("claude", "agent-x", role="subagent", parent_id="p")
    side = {"isSidechain": True, "agentId": "x"}
    state = feed([(0, user("do it") | side), (1, tool("Bash", "b1", command="rm x") | side)], info)
    assert at(state, 1 + APPROVAL).status == "waiting_for_approval"


# -- meta -------------------------------------------------------------------------------------


def test_meta_comes_from_the_lines() -> None:
    state = feed([(0, prompt("  make   the\nbuild green  "))])
    meta = state.meta
    assert (meta.session_id, meta.cwd, meta.project, meta.branch) == (
        "s-1", "/home/ada/work/sessiond", "sessiond", "main",
    )  # fmt: skip
    assert meta.title == "make the build green"
    assert state.last_activity == t(0)


def test_title_prefers_custom_title_then_summary_then_prompt() -> None:
    summary = {"type": "summary", "summary": "Add agent name to logging", "leafUuid": "x"}
    state = feed([(0, summary), (1, prompt("first")), (2, prompt("second"))])
    assert state.meta.title == "Add agent name to logging"
    state.feed({"type": "custom-title", "customTitle": "My title", "sessionId": "s-1"}, 4, t(3))
    assert state.meta.title == "My title"
    assert feed([(1, prompt("first")), (2, prompt("second"))]).meta.title == "first"


def test_title_skips_ide_context_and_is_clipped() -> None:
    blocks = [
        {"type": "text", "text": "<ide_opened_file>The user opened a.py</ide_opened_file>"},
        {"type": "text", "text": "x" * 500},
    ]
    title = feed([(0, user(blocks))]).meta.title
    assert title.startswith("xxx") and len(title) == MAX_TITLE


def test_title_falls_back_to_a_slash_command() -> None:
    line = user("<command-name>/review</command-name>\n<command-args>PR 89</command-args>")
    assert feed([(0, line)]).meta.title == "/review PR 89"


@pytest.mark.parametrize(
    ("name", "tool_input", "summary"),
    [
        ("Bash", {"command": "git commit -m 'x'"}, "git commit -m 'x'"),
        ("Read", {"file_path": "/a/b.py"}, "/a/b.py"),
        ("WebFetch", {"url": "https://hex.pm/packages/x", "prompt": "…"}, "https://hex.pm/packages/x"),
        ("ExitPlanMode", {}, "plan"),
        ("AskUserQuestion", {"question": "Proceed?"}, "Proceed?"),
        ("mcp__db__query", {"sql": "select 1"}, '{"sql":"select 1"}'),
    ],
)
def test_pending_tool_summaries(name: str, tool_input: JSONDict, summary: str) -> None:
    v = at(started(name, **tool_input), 10.1)
    assert v.pending_tool is not None
    assert (v.pending_tool.name, v.pending_tool.summary) == (name, summary)


def test_pending_tool_summary_is_clipped() -> None:
    v = at(started("Bash", command="echo " + "y" * 1000), 10.1)
    assert v.pending_tool is not None and len(v.pending_tool.summary) == MAX_SUMMARY


# -- classify() on top: idle and stale ------------------------------------------------------


def test_waiting_turns_idle_and_working_goes_stale() -> None:
    waiting = feed([(0, prompt()), (5, text(stop="end_turn"))])
    assert classify(waiting, t(5) + LIMITS.idle_after, LIMITS).status == "idle"
    working = feed([(0, prompt()), (5, thinking())])
    assert classify(working, t(5) + LIMITS.stale_after, LIMITS).status == "idle"


# -- the source -------------------------------------------------------------------------------

ROOT = Path("/home/ada/.claude/projects")
ENC = "-home-ada-work-sessiond"
SID = "1ecba475-5b18-4058-a0cb-e87703f6f792"


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (f"{ENC}/{SID}.jsonl", FileInfo("claude", SID)),
        (f"{ENC}/{SID}/subagents/agent-aac57f5.jsonl",
         FileInfo("claude", "agent-aac57f5", role="subagent", parent_id=SID)),
        (f"{ENC}/{SID}/subagents/agent-acompact-946d2b.jsonl",
         FileInfo("claude", "agent-acompact-946d2b", role="compaction", parent_id=SID)),
        (f"{ENC}/{SID}/subagents/workflows/wf1/agent-a9.jsonl",
         FileInfo("claude", "agent-a9", role="subagent", parent_id=SID)),
        (f"{ENC}/agent-1f2e3d4c.jsonl", FileInfo("claude", "agent-1f2e3d4c", role="subagent")),
        (f"{ENC}/{SID}/tool-results/r1.txt", None),
        (f"{ENC}/sessions-index.json", None),
        (f"{ENC}/{SID}/subagents/workflows/wf1/journal.jsonl", None),
        (f"{ENC}/{SID}/subagents/agent-aac57f5.meta.json", None),
        (f"{ENC}/{SID}/notes.jsonl", None),
        (f"{SID}.jsonl", None),
    ],
)  # fmt: skip
def test_identify(rel: str, expected: FileInfo | None) -> None:
    assert ClaudeSource().identify(ROOT / rel, ROOT) == expected


def test_identify_outside_the_root() -> None:
    assert ClaudeSource().identify(Path("/tmp/x/a.jsonl"), ROOT) is None


def test_roots() -> None:
    source, home = ClaudeSource(), Path("/home/ada")
    assert source.roots({}, home) == [home / ".claude" / "projects"]
    assert source.roots({"CLAUDE_CONFIG_DIR": "/etc/cc"}, home) == [Path("/etc/cc/projects")]


def test_record_time() -> None:
    source = ClaudeSource()
    assert source.record_time({"timestamp": "2026-02-03T10:00:00.000Z"}) == T0
    assert source.record_time({"type": "file-history-snapshot"}) is None


@pytest.mark.parametrize(
    ("record", "mine"),
    [
        (prompt(), True),
        (hook("Stop"), True),
        ({"type": "file-history-snapshot", "messageId": "m", "snapshot": {}}, True),
        ({"type": "summary", "summary": "x", "leafUuid": "u"}, True),
        ({"type": "permission-mode", "permissionMode": "default", "sessionId": "s"}, True),
        ({"timestamp": "t", "type": "session_meta", "payload": {"id": "x"}}, False),  # Codex
        ({"id": "m1", "timestamp": "t", "type": "user", "content": "hi"}, False),  # Gemini
        ({"sessionId": "s", "projectHash": "h", "startTime": "t"}, False),  # Gemini header
        ({"role": "user", "message": {"content": []}}, False),  # Cursor
    ],
)
def test_recognises(record: JSONDict, mine: bool) -> None:
    assert ClaudeSource().recognises(record) is mine
