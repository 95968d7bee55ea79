"""The hooks' pure rules: payload mapping (agent-hooks.md shapes) and reconciliation."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sessiond.config import Config
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import EventHub
from sessiond.engine.outputs import Publisher
from sessiond.hooks.reconcile import (
    MAX_HOOK_ONLY,
    TURN_END_SLACK,
    HookBook,
    HookOnlyState,
    HookOverlay,
    HookSignal,
    event_label,
    from_overlay,
    next_overlay,
    parse_hook,
    reconcile,
    superseded,
)
from sessiond.protocol import MAX_ID, PendingTool, Status
from sessiond.sources import all_sources
from sessiond.sources.base import Classification, Thresholds

T0 = datetime(2026, 8, 20, 10, 15, 0, tzinfo=UTC)
LIMITS = Thresholds()
SID = "00893aaf-19fa-41d2-8238-13269b9b3ca0"
BASH = PendingTool("Bash", "rm -rf node_modules")


def sec(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def claude(event: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": SID, "cwd": "/home/u/app", "hook_event_name": event,
            "transcript_path": f"/home/u/.claude/projects/-home-u-app/{SID}.jsonl", **fields}  # fmt: skip


def sig(agent: str, payload: dict[str, Any], at: float = 0) -> HookSignal:
    signal = parse_hook(agent, payload, sec(at))
    assert signal is not None
    return signal


def overlay(status: Status, at: float = 0, *, sticky: bool = False, tool: PendingTool | None = None,
            agent: Any = "claude", thread: str = "") -> HookOverlay:
    return HookOverlay(agent, status, f"{status} hook", sec(at), "Test", tool, sticky, thread)


def verdict(status: Status, since: float | None, tool: PendingTool | None = None) -> Classification:
    return Classification(status, f"transcript says {status}", None if since is None else sec(since),
                          tool, None)  # fmt: skip


# -- mapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (claude("UserPromptSubmit", prompt="Fix the failing test"), "working"),
        (claude("PreToolUse", tool_name="Bash", tool_input={"command": "npm test"}), "working"),
        (claude("PreToolUse", tool_name="AskUserQuestion",
                tool_input={"questions": [{"question": "Which DB?"}]}), "waiting_for_input"),
        (claude("PermissionRequest", tool_name="ExitPlanMode", tool_input={"plan": "# Plan\n1. x"}),
         "waiting_for_approval"),
        (claude("PostToolUse", tool_name="Write", tool_input={"file_path": "/a"}), "working"),
        (claude("PostToolUseFailure", tool_name="Bash", error="Exit code 1"), "working"),
        (claude("Notification", notification_type="permission_prompt",
                message="Claude needs your permission to use Bash"), "waiting_for_approval"),
        (claude("Notification", notification_type="idle_prompt"), "waiting_for_input"),
        (claude("Notification", notification_type="elicitation_dialog"), "waiting_for_input"),
        (claude("Notification", notification_type="auth_success"), None),
        (claude("Stop", stop_hook_active=False, last_assistant_message="Done."), "waiting_for_input"),
        (claude("StopFailure", error="rate_limit"), "waiting_for_input"),
        (claude("SubagentStop", agent_id="def456", agent_type="Explore"), None),
        (claude("SessionStart", source="startup", model="claude-sonnet-5"), "waiting_for_input"),
        (claude("SessionStart", source="compact"), None),
        (claude("SessionEnd", reason="prompt_input_exit"), "ended"),
        (claude("PreCompact", trigger="auto", custom_instructions=""), "working"),
        (claude("TaskCreated", task={}), None),
    ],
)  # fmt: skip
def test_claude_events(payload: dict[str, Any], status: Status | None) -> None:
    signal = sig("claude", payload)
    assert signal.status == status
    assert signal.session_id == SID
    assert signal.sticky == (status == "waiting_for_approval")
    assert (signal.reason != "") == (status is not None)


def test_claude_details() -> None:
    ask = sig("claude", claude("PermissionRequest", tool_name="Bash",
                               tool_input={"command": "rm -rf node_modules"}))  # fmt: skip
    assert ask.pending_tool == BASH
    assert ask.reason == "PermissionRequest hook: Bash waits for your approval"
    plan = sig("claude", claude("PermissionRequest", tool_name="ExitPlanMode",
                                tool_input={"plan": "# Ship it\n1. build"}))  # fmt: skip
    assert plan.pending_tool == PendingTool("ExitPlanMode", "Ship it")
    web = sig("claude", claude("PreToolUse", tool_name="WebFetch", tool_input={"url": "https://x.y"}))
    assert web.pending_tool == PendingTool("WebFetch", "https://x.y")
    prompt = sig("claude", claude("UserPromptSubmit", prompt="  Fix\nthe   test "))
    assert (prompt.prompt, prompt.cwd) == ("Fix the test", "/home/u/app")
    note = sig("claude", claude("Notification", notification_type="permission_prompt",
                                message="Claude needs your permission to use Bash"))  # fmt: skip
    assert note.pending_tool is not None and note.pending_tool.name == "Bash"
    idle = sig("claude", claude("Notification", notification_type="idle_prompt"))
    assert idle.only_if_working
    sub = sig("claude", claude("PermissionRequest", tool_name="Bash", agent_id="a1", agent_type="x"))
    assert sub.thread == "a1"


def test_codex_notify_and_hooks() -> None:
    notify = {"type": "agent-turn-complete", "thread-id": "B5F6C1C2-1111-2222-3333-444455556666",
              "turn-id": "12345", "cwd": "/Users/example/project", "client": "codex-tui",
              "input-messages": ["Rename `foo` to `bar`"],
              "last-assistant-message": "Rename complete."}  # fmt: skip
    turn = sig("codex", notify)
    assert (turn.session_id, turn.status, turn.prompt, turn.event) == (
        "b5f6c1c2-1111-2222-3333-444455556666", "waiting_for_input", "Rename `foo` to `bar`",
        "agent-turn-complete")
    assert event_label("codex", notify) == "agent_turn_complete"
    base = {"session_id": "019a8c3e-aaaa", "transcript_path": None, "cwd": "/home/u/app",
            "model": "gpt-5.1-codex-max"}  # fmt: skip
    expected = {"SessionStart": "waiting_for_input", "UserPromptSubmit": "working", "PreToolUse": "working",
                "PermissionRequest": "waiting_for_approval", "PostToolUse": "working",
                "Stop": "waiting_for_input", "Interrupt": "waiting_for_input", "SessionEnd": "ended",
                "SubagentStop": None}  # fmt: skip
    for event, status in expected.items():
        payload = {**base, "hook_event_name": event, "tool_name": "Bash",
                   "tool_input": {"command": "git push origin main"}}  # fmt: skip
        assert sig("codex", payload).status == status, event
    ask = sig("codex", {**base, "hook_event_name": "PermissionRequest", "tool_name": "Bash",
                        "tool_input": {"command": "git push origin main"}})  # fmt: skip
    assert ask.pending_tool == PendingTool("Bash", "git push origin main")


def test_gemini_events_and_session_ids() -> None:
    full = "5f0c2a9e-1111-2222-3333-444455556666"
    base = {"session_id": full, "cwd": "/home/u/app", "timestamp": "2026-08-20T10:15:02.123Z"}
    assert sig("gemini", {**base, "hook_event_name": "BeforeAgent"}).session_id == "5f0c2a9e"
    chat = "/home/u/.gemini/tmp/app/chats/session-2026-08-20T10-15-1795e8c7.jsonl"
    assert sig("gemini", {**base, "transcript_path": chat, "hook_event_name": "AfterTool"}).session_id == (
        "1795e8c7")
    ask = sig("gemini", {**base, "hook_event_name": "Notification", "notification_type": "ToolPermission",
                         "message": "Tool Confirm Shell Command requires execution",
                         "details": {"type": "exec", "title": "Confirm Shell Command",
                                     "command": "npm test", "rootCommand": "npm"}})  # fmt: skip
    assert (ask.status, ask.pending_tool) == (
        "waiting_for_approval", PendingTool("Confirm Shell Command", "npm test"))
    expected = {"SessionStart": "waiting_for_input", "BeforeAgent": "working", "BeforeTool": "working",
                "AfterTool": "working", "AfterAgent": "waiting_for_input", "SessionEnd": "ended",
                "BeforeModel": None, "Notification": None}  # fmt: skip
    for event, status in expected.items():
        payload = {**base, "hook_event_name": event, "tool_name": "run_shell_command",
                   "tool_input": {"command": "npm test"}}  # fmt: skip
        assert sig("gemini", payload).status == status, event
    tool = sig("gemini", {**base, "hook_event_name": "BeforeTool", "tool_name": "run_shell_command",
                          "tool_input": {"command": "npm test"}})  # fmt: skip
    assert tool.pending_tool == PendingTool("run_shell_command", "npm test")


def test_cursor_events_and_claude_route() -> None:
    stop = {"hook_event_name": "stop", "conversation_id": "c-1", "generation_id": "g-9",
            "workspace_roots": ["/home/u/app"], "status": "completed", "loop_count": 0}  # fmt: skip
    signal = sig("cursor", stop)
    assert (signal.agent, signal.session_id, signal.status, signal.cwd) == (
        "cursor", "c-1", "waiting_for_input", "/home/u/app")
    # Cursor also runs Claude's user hooks: told apart by conversation_id.
    assert sig("claude", stop).agent == "cursor"
    prompt = sig("cursor", {**stop, "hook_event_name": "beforeSubmitPrompt", "prompt": "hi"})
    assert (prompt.status, prompt.prompt) == ("working", "hi")


def test_unusable_payloads_and_labels() -> None:
    assert parse_hook("claude", {"hook_event_name": "Stop"}, T0) is None  # no session
    assert parse_hook("aider", claude("Stop"), T0) is None  # an agent sessiond does not know
    assert parse_hook("claude", {"session_id": 7, "hook_event_name": "Stop"}, T0) is None
    # Ids have one limit everywhere (protocol.MAX_ID): longer ones name no real session.
    assert parse_hook("claude", {**claude("Stop"), "session_id": "x" * (MAX_ID + 1)}, T0) is None
    assert sig("claude", {**claude("Stop"), "session_id": "x" * MAX_ID}).session_id == "x" * MAX_ID
    huge = sig("claude", {**claude("UserPromptSubmit", prompt="p" * 10_000), "cwd": "/" + "d" * 5000})
    assert (huge.cwd, len(huge.prompt)) == ("", 200)
    weird = sig("claude", claude("Weird Event!"))
    assert (weird.status, weird.event) == (None, "hook")
    assert event_label("claude", claude("PermissionRequest")) == "PermissionRequest"
    assert event_label("claude", claude("Weird Event!")) == "other"
    # OpenCode's events are dotted: the reason names them, the metrics label has "_".
    dotted = {"hook_event_name": "permission.asked", "session_id": "ses_1",
              "properties": {"permission": "bash"}}
    assert event_label("opencode", dotted) == "permission_asked"
    assert sig("opencode", dotted).reason.startswith("permission.asked hook: ")
    assert event_label("claude", claude("x" * 65)) == "other"
    assert event_label("claude", {"session_id": SID}) == "other"


# -- the overlay ------------------------------------------------------------------------------------


def test_next_overlay_rules() -> None:
    ask = sig("claude", claude("PermissionRequest", tool_name="Bash",
                               tool_input={"command": "rm -rf node_modules"}), at=1)  # fmt: skip
    first = next_overlay(None, "working", ask)
    assert first is not None and first.sticky and first.pending_tool == BASH and first.at == sec(1)
    # The ~6 s later permission_prompt does not restart the prompt's clock or lose its tool.
    late = sig("claude", claude("Notification", notification_type="permission_prompt",
                                message="Claude needs your permission to use Bash"), at=7)  # fmt: skip
    assert next_overlay(first, "waiting_for_approval", late) is first
    # A permission_prompt with no PermissionRequest before it takes the PreToolUse's tool.
    pre = next_overlay(None, "working", sig("claude", claude("PreToolUse", tool_name="Bash",
                                                             tool_input={"command": "ls"})))  # fmt: skip
    vague = sig("claude", claude("Notification", notification_type="permission_prompt"), at=6)
    alone = next_overlay(pre, "working", vague)
    assert alone is not None and alone.status == "waiting_for_approval"
    assert alone.pending_tool == PendingTool("Bash", "ls")
    # idle_prompt only when working: repeated, or after Stop, or when idle: nothing.
    idle = sig("claude", claude("Notification", notification_type="idle_prompt"), at=60)
    stop = next_overlay(first, "working", sig("claude", claude("Stop"), at=2))
    for shown in ("waiting_for_input", "idle", "waiting_for_approval", "ended"):
        assert next_overlay(stop, shown, idle) is stop
    assert next_overlay(stop, "working", idle) is not stop  # a lost Stop: now waiting
    # No-status events change nothing.
    assert next_overlay(first, "waiting_for_approval", sig("claude", claude("SubagentStop"))) is first
    # A subagent's prompt is not cleared by another thread's progress, only its own.
    sub_ask = next_overlay(None, "working", sig("claude", claude(
        "PermissionRequest", tool_name="Bash", agent_id="a1"), at=3))
    other = sig("claude", claude("PostToolUse", tool_name="Read", agent_id="a2"), at=4)
    main = sig("claude", claude("PostToolUse", tool_name="Read"), at=4)
    own = sig("claude", claude("PostToolUse", tool_name="Bash", agent_id="a1"), at=5)
    assert next_overlay(sub_ask, "waiting_for_approval", other) is sub_ask
    assert next_overlay(sub_ask, "waiting_for_approval", main) is sub_ask
    after = next_overlay(sub_ask, "waiting_for_approval", own)
    assert after is not None and after.status == "working"
    # ...but the turn's end (or a new prompt for approval) replaces it.
    ended = next_overlay(sub_ask, "waiting_for_approval", sig("claude", claude("Stop"), at=9))
    assert ended is not None and ended.status == "waiting_for_input"


def test_a_permission_prompt_holds_until_the_tool_result_or_an_interrupt() -> None:
    ask = overlay("waiting_for_approval", 10, sticky=True, tool=BASH)
    # The tool_use line, before or after the hook: the same tool, still pending.
    assert not superseded(verdict("working", 9.9, BASH), ask)
    assert not superseded(verdict("working", 10.2, BASH), ask)
    # Its result: the tool is no longer pending (another one may be).
    assert superseded(verdict("working", 15, None), ask)
    assert superseded(verdict("working", 15, PendingTool("Write", "/a")), ask)
    # Esc: the interrupt line (even stamped in the hook's own millisecond).
    assert superseded(verdict("waiting_for_input", 12), ask)
    assert superseded(verdict("waiting_for_input", 10.0), overlay("waiting_for_approval", 10.0004,
                                                                 sticky=True, tool=BASH))
    assert not superseded(verdict("waiting_for_input", 9.998), ask)  # an older turn end
    assert superseded(verdict("ended", 30), ask)
    # A stale "working" going idle says nothing about a prompt on screen.
    assert not superseded(verdict("idle", 610), ask)
    # The transcript's own approval guess agrees; it does not take over.
    assert not superseded(verdict("waiting_for_approval", 14, BASH), ask)
    # Codex names tools differently on its two paths: any pending call is the one asked.
    codex = overlay("waiting_for_approval", 10, sticky=True, tool=BASH, agent="codex")
    assert not superseded(verdict("working", 12, PendingTool("exec_command", "git push")), codex)
    assert superseded(verdict("working", 12, None), codex)
    # A subagent's prompt: the parent's transcript shows only its Task.
    sub = overlay("waiting_for_approval", 10, sticky=True, tool=BASH, thread="a1")
    assert not superseded(verdict("working", 12, PendingTool("Task", "explore")), sub)


def test_newer_transcript_lines_supersede_other_hooks() -> None:
    working = overlay("working", 10)
    assert not superseded(verdict("waiting_for_input", 9), working)  # the transcript lags
    assert superseded(verdict("waiting_for_input", 11), working)
    stop = overlay("waiting_for_input", 10)
    assert superseded(verdict("waiting_for_input", 10.5), stop)  # same status: no harm
    # The final reply flushed just after Stop is not a new turn...
    assert not superseded(verdict("working", 10.5), stop)
    # ...a new prompt, well after, is (UserPromptSubmit usually says it first).
    assert superseded(verdict("working", 10 + TURN_END_SLACK.total_seconds() + 0.1), stop)
    assert not superseded(verdict("idle", 2000), stop)
    assert not superseded(verdict("working", None), working)


def test_reconcile_sources_and_idle() -> None:
    ask = overlay("waiting_for_approval", 10, sticky=True, tool=BASH)
    held = reconcile(verdict("working", 9, BASH), ask, sec(11), LIMITS)
    assert (held.classification.status, held.classification.decided, held.expired) == (
        "waiting_for_approval", "hook", False)
    assert held.classification.pending_tool == BASH
    assert held.classification.since == sec(10)
    done = reconcile(verdict("working", 15, None), ask, sec(15), LIMITS)
    assert (done.classification.status, done.classification.decided, done.expired) == (
        "working", "transcript", True)
    alone = reconcile(verdict("working", 3), None, sec(4), LIMITS)
    assert alone.classification.decided == "transcript" and not alone.expired
    # A hook-only session goes idle by the common rules, counted from the later of the
    # hook and the last write; a prompt on screen never does.
    stop = overlay("waiting_for_input", 0)
    soon = reconcile(None, stop, sec(60), LIMITS)
    assert soon.classification.status == "waiting_for_input"
    assert soon.classification.recheck_at == sec(0) + LIMITS.idle_after
    late = reconcile(None, stop, sec(0) + LIMITS.idle_after, LIMITS)
    assert (late.classification.status, late.classification.decided) == ("idle", "timer")
    assert late.classification.since == sec(0) + LIMITS.idle_after
    busy = from_overlay(overlay("working", 0), sec(0) + LIMITS.stale_after, LIMITS, sec(30))
    assert busy.status == "working"  # the transcript wrote 30 s after the hook
    assert from_overlay(overlay("working", 0), sec(30) + LIMITS.stale_after, LIMITS, sec(30)).status == "idle"
    assert from_overlay(ask, sec(100_000), LIMITS, None).status == "waiting_for_approval"
    assert from_overlay(overlay("ended", 0), sec(100_000), LIMITS, None).status == "ended"
    # The transcript's own deadline (a settle time) is kept for the next look.
    settling = verdict("working", 9)
    settling.recheck_at = sec(12)
    merged = reconcile(settling, overlay("working", 10), sec(11), LIMITS)
    assert merged.classification.recheck_at == sec(12)


def test_book_exact_approvals_and_bounds() -> None:
    book = HookBook(max_sessions=3)
    stop = sig("codex", {"type": "agent-turn-complete", "thread-id": "t1", "cwd": "/w/p"})
    book.record(stop, None)
    assert not book.exact_approvals("t1")  # notify alone reports no approvals: keep guessing
    assert book.heard == {"codex": sec(0)}
    ask = sig("claude", claude("PermissionRequest", tool_name="Bash"), at=5)
    book.record(ask, "working")
    assert book.exact_approvals(SID) and not book.exact_approvals("t1")
    entry = book.sessions[SID]
    assert entry.overlay is not None and entry.overlay.status == "waiting_for_approval"
    book.expire(SID)
    assert book.overlay(SID) is None and book.exact_approvals(SID)  # still hooked
    for n in range(5):
        book.record(sig("claude", {**claude("Stop"), "session_id": f"s{n}"}), None)
    assert len(book.sessions) == 3 and SID not in book.sessions
    book.forget("s4")
    assert "s4" not in book.sessions


def test_hook_only_state_meta() -> None:
    book = HookBook()
    entry = book.record(sig("claude", claude("UserPromptSubmit", prompt="add a cart page"), at=2), None)
    state = HookOnlyState(SID, entry)
    meta = state.meta
    assert (meta.session_id, meta.cwd, meta.project, meta.title) == (
        SID, "/home/u/app", "app", "add a cart page")
    assert state.last_activity == sec(2) and state.has_basis()
    assert state.verdict(sec(3), LIMITS).since is None


# -- the engine, in-process ----------------------------------------------------------------------------


async def test_engine_bounds_hook_only_sessions_and_keeps_approvals_exact(tmp_path: Path) -> None:
    config = Config(state_dir=tmp_path / "state", env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude")},
                    home=tmp_path)  # fmt: skip
    hub = EventHub()
    engine = Engine(config, Publisher(hub), all_sources())
    engine.start()
    for n in range(MAX_HOOK_ONLY + 20):
        payload = {**claude("UserPromptSubmit", prompt=f"p{n}"), "session_id": f"s{n}"}
        engine.hook_event("claude", payload, 0.0)
    assert len(engine.sessions) == MAX_HOOK_ONLY
    assert "s0" not in engine.sessions and f"s{MAX_HOOK_ONLY + 19}" in engine.sessions
    assert engine.thresholds_for("s30").infer_approval  # no approval hook heard yet
    engine.hook_event("claude", {**claude("PermissionRequest", tool_name="Bash"), "session_id": "s30"}, 0.0)
    assert engine.sessions["s30"].status == "waiting_for_approval"
    assert engine.sessions["s30"].source == "hook"
    assert not engine.thresholds_for("s30").infer_approval
    assert engine.thresholds_for("unknown").infer_approval
    # The end of a session never seen creates nothing.
    engine.hook_event("claude", {**claude("SessionEnd"), "session_id": "ghost"}, 0.0)
    assert "ghost" not in engine.sessions
    engine.close()


async def test_engine_hooks_stand_in_for_a_cold_transcript_until_it_grows(tmp_path: Path) -> None:
    from tests.transcripts import ClaudeTranscript

    projects = tmp_path / "claude" / "projects"
    t = ClaudeTranscript(projects, session_id=SID)
    t.write(t.prompt("an old question"), t.reply("an old answer"))
    os.utime(t.path, (1_700_000_000, 1_700_000_000))  # far older than cold_after
    config = Config(state_dir=tmp_path / "state", env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude")},
                    home=tmp_path)  # fmt: skip
    engine = Engine(config, Publisher(EventHub()), all_sources())
    engine.start()
    assert engine.sessions[SID].status == "idle"
    # Resumed: the hook knows at once, before a line is written (the file is not read).
    engine.hook_event("claude", claude("UserPromptSubmit", prompt="a new question"), 0.0)
    shown = engine.sessions[SID]
    assert (shown.status, shown.source, shown.title, shown.project) == (
        "working", "hook", "a new question", "app")
    # The file grows: its transcript takes over, with no second transition.
    t.write(t.prompt("a new question"))
    engine.file_changed(t.path)
    shown = engine.sessions[SID]
    assert (shown.status, shown.branch) == ("working", "main")
    assert engine.keeper.main_file(SID) is engine.files[t.path]
    engine.close()
