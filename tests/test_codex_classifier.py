"""Codex CLI classifier: synthetic records for each rule, then the real corpus.

Corpus: ../shared/corpus/codex (entireio/external-agents checkpoint branch, Codex
0.121 / 0.123; see MANIFEST.json).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sessiond.inspection as inspect_mod
from sessiond.inspection import feed_file, inspect_file
from sessiond.protocol import JSONDict
from sessiond.sources import plugins
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.codex.transcript import CodexSource, CodexState
from sessiond.sources.cursor.transcript import CursorSource
from sessiond.sources.gemini.transcript import GeminiSource

from tests.replay_agents import at_line, foreign_records, replay, statuses, timed_records, transitions

T0 = datetime(2026, 4, 20, 7, 0, 0, tzinfo=UTC)
# Explicit, so the tests do not depend on the default settle time.
LIMITS = Thresholds(settle_after=timedelta(seconds=2))
# The source as the daemon builds it, from the registry (Claude's rules come first there:
# tests/test_cli_inspect.py checks each corpus file is still told apart by them).
SRC = plugins()["codex"].source()
assert isinstance(SRC, CodexSource)
INFO = FileInfo("codex", "019da9bd-7cbb-7d22-b21c-80faf72e7f8a")
FIVE_C = "codex/entireio__external-agents__5c-d654717a10-0-full.jsonl"
FC = "codex/entireio__external-agents__fc-9a115d0155-0-full.jsonl"


def sec(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def ev(kind: str, payload: dict[str, Any], at: float = 0.0) -> JSONDict:
    return {"timestamp": sec(at).isoformat(), "type": kind, "payload": payload}


def event(t: str, at: float = 0.0, **fields: Any) -> JSONDict:
    return ev("event_msg", {"type": t, **fields}, at)


def item(t: str, at: float = 0.0, **fields: Any) -> JSONDict:
    return ev("response_item", {"type": t, **fields}, at)


def call(call_id: str, at: float, name: str = "exec_command", **args: Any) -> JSONDict:
    return item("function_call", at, name=name, call_id=call_id, arguments=json.dumps(args))


def context(policy: str = "on-request", at: float = 0.0) -> JSONDict:
    return ev("turn_context", {"turn_id": "t1", "cwd": "/w/app", "approval_policy": policy}, at)


def feed(records: list[JSONDict], info: FileInfo = INFO) -> CodexState:
    state = SRC.new_state(info)
    for n, record in enumerate(records, start=1):
        state.feed(record, n, SRC.record_time(record) or T0)
    return state


def turn(*more: JSONDict, policy: str = "on-request") -> list[JSONDict]:
    return [
        event("task_started", 0, turn_id="t1"),
        context(policy, 0),
        event("user_message", 0.1, message="do it"),
        *more,
    ]


ESCALATED = {"cmd": "mise run test", "sandbox_permissions": "require_escalated",
             "justification": "Run the tests outside the sandbox?"}


# -- turn rules ---------------------------------------------------------------------


def test_task_started_is_working_until_task_complete() -> None:
    state = feed(turn(item("reasoning", 1)))
    v = state.verdict(sec(30), LIMITS)
    assert v.status == "working"
    assert v.reason.startswith("line 1: turn started")
    assert v.since == sec(0)
    assert state.has_basis()

    state = feed(turn(event("task_complete", 5, turn_id="t1", last_agent_message="done")))
    v = state.verdict(sec(6), LIMITS)
    assert (v.status, v.since) == ("waiting_for_input", sec(5))
    assert v.reason.startswith("line 4: turn complete")


def test_turn_started_and_turn_complete_aliases() -> None:
    state = feed([event("turn_started", 0, turn_id="t"), event("user_message", 1, message="x")])
    assert state.verdict(sec(2), LIMITS).status == "working"
    state.feed(event("turn_complete", 3), 3, sec(3))
    assert state.verdict(sec(4), LIMITS).status == "waiting_for_input"


def test_task_complete_with_error_is_a_failed_turn() -> None:
    err = {"message": "stream disconnected", "codex_error_info": "other"}
    v = feed(turn(event("task_complete", 5, error=err))).verdict(sec(6), LIMITS)
    assert v.status == "waiting_for_input"
    assert "failed" in v.reason and "stream disconnected" in v.reason


def test_turn_aborted_is_an_interrupt() -> None:
    aborted = item("message", 4, role="user",
                   content=[{"type": "input_text", "text": "<turn_aborted>\nThe user…"}])
    v = feed(turn(aborted, event("turn_aborted", 4, reason="interrupted"))).verdict(sec(5), LIMITS)
    assert v.status == "waiting_for_input"
    assert v.reason.startswith("line 5:") and "interrupted" in v.reason


def test_final_answer_without_task_complete_stays_working() -> None:
    final = item("message", 3, role="assistant", phase="final_answer",
                 content=[{"type": "output_text", "text": "All done."}])
    v = feed(turn(final, event("token_count", 3))).verdict(sec(600), LIMITS)
    assert v.status == "working"
    assert "line 4: final answer" in v.reason


def test_prompt_after_completed_turn_without_task_started_is_working() -> None:
    # Older builds persisted task_complete but no task_started.
    records = [*turn(event("task_complete", 2)), event("user_message", 10, message="more")]
    v = feed(records).verdict(sec(11), LIMITS)
    assert (v.status, v.since) == ("working", sec(10))
    assert v.reason.startswith("line 5: user prompt")


def test_build_without_any_turn_markers_settles_on_the_reply() -> None:
    reply = item("message", 5, role="assistant", content=[{"type": "output_text", "text": "Hi"}])
    state = feed([event("user_message", 0, message="hello"), item("reasoning", 2), reply])
    early = state.verdict(sec(6), LIMITS)
    assert early.status == "working"
    assert early.recheck_at == sec(5) + LIMITS.settle_after
    late = state.verdict(sec(8), LIMITS)
    assert (late.status, late.since) == ("waiting_for_input", sec(5))
    # ... but a pending call after the reply is still work.
    state.feed(call("c1", 6, cmd="ls"), 4, sec(6))
    assert state.verdict(sec(60), LIMITS).status == "working"
    # A new prompt opens a new turn.
    state = feed([event("user_message", 0, message="a"), reply, event("user_message", 9, message="b")])
    assert state.verdict(sec(30), LIMITS).status == "working"


def test_compaction_stays_working() -> None:
    for record in (ev("compacted", {"message": "summary"}, 2), event("context_compacted", 2),
                   item("compaction", 2, encrypted_content="x")):
        v = feed(turn(record)).verdict(sec(30), LIMITS)
        assert v.status == "working" and "line 4: context compacted" in v.reason


# -- approval guess -----------------------------------------------------------------


def test_escalated_call_becomes_waiting_for_approval_after_the_threshold() -> None:
    state = feed(turn(call("c1", 10, **ESCALATED)))
    before = state.verdict(sec(12), LIMITS)
    assert before.status == "working"
    assert before.recheck_at == sec(10) + LIMITS.approval_after
    assert before.pending_tool is not None
    after = state.verdict(sec(15), LIMITS)
    assert (after.status, after.since) == ("waiting_for_approval", sec(10))
    assert after.reason.startswith("line 4: exec_command")
    assert after.pending_tool is not None
    assert after.pending_tool.name == "exec_command"
    assert after.pending_tool.summary == "mise run test — Run the tests outside the sandbox?"
    # The output arrives: it ran.
    state.feed(item("function_call_output", 20, call_id="c1", output="ok"), 5, sec(20))
    assert state.verdict(sec(21), LIMITS).status == "working"


def test_legacy_with_escalated_permissions_flag() -> None:
    state = feed(turn(call("c1", 10, name="shell", command=["bash", "-lc", "rm -rf build"],
                           with_escalated_permissions=True)))
    v = state.verdict(sec(60), LIMITS)
    assert v.status == "waiting_for_approval"
    assert v.pending_tool is not None and v.pending_tool.summary == "bash -lc rm -rf build"


def test_yield_time_extends_the_wait() -> None:
    state = feed(turn(call("c1", 10, yield_time_ms=10_000, **ESCALATED)))
    v = state.verdict(sec(15), LIMITS)
    assert v.status == "working" and v.recheck_at == sec(24)
    assert state.verdict(sec(24), LIMITS).status == "waiting_for_approval"


@pytest.mark.parametrize("policy", ["never", "on-failure", ""])
def test_no_approval_guess_when_the_policy_does_not_ask(policy: str) -> None:
    records = turn(call("c1", 10, **ESCALATED), policy=policy)
    if not policy:
        records = [r for r in records if r["type"] != "turn_context"]
    assert feed(records).verdict(sec(100), LIMITS).status == "working"


def test_no_approval_guess_when_hooks_report_approvals() -> None:
    v = feed(turn(call("c1", 10, **ESCALATED))).verdict(
        sec(100), Thresholds(infer_approval=False)
    )
    assert v.status == "working" and v.recheck_at is None
    assert v.pending_tool is not None


def test_plain_pending_call_is_working_and_exec_end_clears_it() -> None:
    state = feed(turn(call("c1", 10, cmd="sleep 100")))
    v = state.verdict(sec(200), LIMITS)
    assert v.status == "working"
    assert v.pending_tool is not None and v.pending_tool.summary == "sleep 100"
    state = feed(turn(call("c1", 10, **ESCALATED), event("exec_command_end", 11, call_id="c1")))
    assert state.verdict(sec(200), LIMITS).status == "working"


def test_pending_patch_is_an_approval_guess() -> None:
    # Every allowed patch in the corpus applied within 0.6 s (e.g. 5c L261 -> L264).
    patch = item("custom_tool_call", 2, name="apply_patch", call_id="p",
                 input="*** Begin Patch\n*** Update File: /etc/hosts\n")
    state = feed(turn(patch))
    assert state.verdict(sec(5), LIMITS).status == "working"
    v = state.verdict(sec(6), LIMITS)
    assert v.status == "waiting_for_approval" and "apply_patch not applied yet" in v.reason
    assert feed(turn(patch, policy="never")).verdict(sec(60), LIMITS).status == "working"


def test_untrusted_policy_asks_for_plain_commands() -> None:
    state = feed(turn(call("c1", 10, cmd="cargo build", yield_time_ms=1000), policy="untrusted"))
    assert state.verdict(sec(14.9), LIMITS).status == "working"
    v = state.verdict(sec(15), LIMITS)
    assert v.status == "waiting_for_approval" and "untrusted" in v.reason
    # Under on-request the same plain command is just running.
    state = feed(turn(call("c1", 10, cmd="cargo build", yield_time_ms=1000)))
    assert state.verdict(sec(60), LIMITS).status == "working"


def test_pending_calls_are_bounded_and_cleared_at_turn_end() -> None:
    calls = [call(f"c{i}", 1, cmd="x") for i in range(1000)]
    state = feed(turn(*calls))
    assert len(state._pending) <= 256
    state.feed(event("task_complete", 2), 2000, sec(2))
    assert not state._pending


def test_apply_patch_summary_names_the_files() -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-x\n+y\n*** Add File: b.py\n+z\n"
    state = feed(turn(item("custom_tool_call", 2, name="apply_patch", call_id="p", input=patch)))
    v = state.verdict(sec(3), LIMITS)
    assert v.pending_tool is not None and v.pending_tool.summary == "a.py, b.py"


# -- meta ---------------------------------------------------------------------------


def test_meta_from_session_meta_turn_context_and_first_prompt() -> None:
    meta = {"id": "019d-thread", "cwd": "/Users/s/Work/external-agents",
            "git": {"branch": "main"}, "parent_thread_id": "019d-parent"}
    injected = item("message", 0, role="user",
                    content=[{"type": "input_text", "text": "# AGENTS.md instructions for /x"}])
    env = item("message", 0, role="user",
               content=[{"type": "input_text", "text": "<environment_context>…"}])
    state = feed([ev("session_meta", meta), event("task_started"), injected, env,
                  item("message", 1, role="user", content=[{"type": "input_text", "text": "fix"}]),
                  event("user_message", 1, message="fix  the\nbuild"),
                  event("user_message", 9, message="second")])
    m = state.meta
    assert (m.session_id, m.parent_id, m.branch) == ("019d-thread", "019d-parent", "main")
    assert (m.cwd, m.project) == ("/Users/s/Work/external-agents", "external-agents")
    assert m.title == "fix the build"
    state.feed(context(at=10), 8, sec(10))
    assert state.meta.cwd == "/w/app" and state.meta.project == "app"


def test_subagent_parent_from_nested_source() -> None:
    meta = {"id": "child", "source": {"subagent": {"thread_spawn": {"parent_thread_id": "p1"}}}}
    assert feed([ev("session_meta", meta)]).meta.parent_id == "p1"


# -- robustness ---------------------------------------------------------------------


GARBAGE: list[JSONDict] = [
    {},
    {"type": "event_msg"},
    {"type": "event_msg", "payload": "nope"},
    {"type": "event_msg", "payload": {"type": None}},
    {"type": "response_item", "payload": {"type": "function_call", "arguments": "{not json"}},
    {"type": "response_item", "payload": {"type": "function_call", "arguments": "[1, 2]"}},
    {"type": "response_item", "payload": {"type": "function_call", "arguments": {"cmd": 5}}},
    {"type": "response_item", "payload": {"type": "function_call_output"}},
    {"type": "response_item", "payload": {"type": "message", "role": "user", "content": 7}},
    {"type": "session_meta", "payload": {"id": 5, "git": "main", "cwd": None}},
    {"type": "turn_context", "payload": {"approval_policy": {"granular": {}}}},
    {"type": "event_msg", "payload": {"type": "task_complete", "error": "x"}},
    {"type": "event_msg", "payload": {"type": "turn_aborted", "reason": 3}},
    {"type": "event_msg", "payload": {"type": "user_message", "message": None}},
    {"type": "world_state", "payload": {"anything": True}},
    {"type": "message", "role": "assistant", "content": "bare item from an early build"},
    {"type": "event_msg", "payload": {"type": "task_started"}, "ordinal": 9},
]


def test_garbage_never_raises() -> None:
    state = feed(GARBAGE)
    for now in (sec(0), sec(10), sec(10_000)):
        classify(state, now, LIMITS)
        state.verdict(now, Thresholds(infer_approval=False))


def test_empty_state() -> None:
    state = SRC.new_state(INFO)
    assert not state.has_basis()
    assert state.verdict(sec(0), LIMITS).status == "waiting_for_input"
    state.feed(ev("session_meta", {"id": "x"}), 1, sec(0))
    assert not state.has_basis()


def test_recognises_only_codex_envelopes() -> None:
    assert SRC.recognises(event("task_started"))
    assert SRC.recognises(ev("session_meta", {"id": "x"}))
    claude = {"type": "user", "uuid": "u", "message": {"role": "user", "content": "hi"}}
    assert not SRC.recognises(claude)
    assert not SRC.recognises({"type": "assistant", "message": {}, "payload": None})
    assert not SRC.recognises({"id": "m", "type": "user", "content": "hi"})  # Gemini
    assert not SRC.recognises({"type": "turn_ended", "status": "success"})  # Cursor
    assert not GeminiSource().recognises(event("task_started"))
    assert not CursorSource().recognises(event("task_started"))


def test_identify_paths(tmp_path: Path) -> None:
    root = tmp_path / ".codex" / "sessions"
    uuid = "019da9bd-7cbb-7d22-b21c-80faf72e7f8a"
    dated = root / "2026" / "04" / "20" / f"rollout-2026-04-20T09-14-21-{uuid}.jsonl"
    info = SRC.identify(dated, root)
    assert info is not None and info.session_id == uuid and info.agent == "codex"
    flat = root / f"rollout-2025-05-07-{uuid}.jsonl"
    assert SRC.identify(flat, root) == FileInfo("codex", uuid)
    rollout = "0199aaaa-0000-7000-8000-000000000000"
    forked = root / "2026" / "04" / "20" / f"rollout-2026-04-20T09-14-21-{uuid}_{rollout}.jsonl"
    assert SRC.identify(forked, root) == FileInfo("codex", uuid)
    assert SRC.identify(root / "2026" / "04" / "20" / "notes.jsonl", root) is None
    assert SRC.identify(root / "x" / f"rollout-{uuid}.jsonl", root) is None
    assert SRC.identify(tmp_path / f"rollout-{uuid}.jsonl", root) is None
    assert SRC.roots({"CODEX_HOME": "/opt/cx"}, Path("/home/u")) == [Path("/opt/cx/sessions")]
    assert SRC.roots({}, Path("/home/u")) == [Path("/home/u/.codex/sessions")]


# -- corpus -------------------------------------------------------------------------


@pytest.fixture
def my_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """inspect's all_sources() is the lead's registry; register ours for these tests."""
    monkeypatch.setattr(
        inspect_mod, "all_sources", lambda: [CodexSource(), GeminiSource(), CursorSource()]
    )


def _last_time(path: Path) -> datetime:
    last = None
    for t in timed_records(SRC, path, T0):
        last = t.at
    assert last is not None
    return last


# The end state of every Codex corpus file, as of its last timestamp + 10 s.
END_STATES = [
    # L816 `"role":"assistant",…,"phase":"final_answer"` then L817 token_count and no
    # task_complete: the turn opened at L717 `task_started` is still open.
    (FIVE_C, "working", "line 717: turn started", "2026-04-20T09:39:09.595Z"),
    # L274 `{"type":"event_msg","payload":{"type":"task_complete",…}}` is the last line.
    (FC, "waiting_for_input", "line 274: turn complete", "2026-04-23T23:59:10.884Z"),
]


@pytest.mark.usefixtures("my_sources")
@pytest.mark.parametrize(("name", "status", "reason", "since"), END_STATES)
def test_corpus_end_states(
    corpus_dir: Path, name: str, status: str, reason: str, since: str
) -> None:
    path = corpus_dir / name
    result = inspect_file(path, now=_last_time(path) + timedelta(seconds=10))
    assert result.agent == "codex"
    assert result.status == status
    assert result.reason.startswith(reason)
    assert result.since == datetime.fromisoformat(since)


@pytest.mark.usefixtures("my_sources")
def test_corpus_file_in_place_under_codex_home(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path))
    day = tmp_path / "sessions" / "2026" / "04" / "24"
    day.mkdir(parents=True)
    name = "rollout-2026-04-24T01-51-12-019dbcc1-3812-72e1-9caa-f97edd88215b.jsonl"
    shutil.copy(corpus_dir / FC, day / name)
    result = inspect_file(day / name, now=datetime(2026, 4, 24, tzinfo=UTC))
    assert (result.agent, result.status) == ("codex", "waiting_for_input")
    assert result.session_id == "019dbcc1-3812-72e1-9caa-f97edd88215b"


def test_corpus_meta(corpus_dir: Path) -> None:
    state = feed_file(SRC, INFO, corpus_dir / FIVE_C)
    m = state.meta
    assert m.session_id == "019da9bd-7cbb-7d22-b21c-80faf72e7f8a"  # L1 session_meta id
    assert (m.cwd, m.project, m.branch) == (
        "/Users/soph/Work/entire/devenv/external-agents", "external-agents", "main"
    )
    # L7 user_message; L3-L4 (permissions, AGENTS.md) are injected and skipped.
    assert m.title == "can you check why `mise run test-all` fails"
    fc = feed_file(SRC, INFO, corpus_dir / FC).meta
    assert fc.branch == "add-support-compact-transcripts" and fc.project == "entire-agent-kiro"


def test_replay_5c(corpus_dir: Path) -> None:
    records = timed_records(SRC, corpus_dir / FIVE_C, T0)
    steps = replay(SRC, INFO, records)

    # L582 escalated exec_command (07:59:19.025): working at first, with a recheck armed.
    at582 = at_line(steps, 582)
    assert at582.status == "working"
    state = SRC.new_state(INFO)
    for r in records:
        if r.line_no is not None and r.line_no > 582:
            break
        state.feed(r.record, r.line_no, r.at)
    v = state.verdict(at582.now, LIMITS)
    assert v.recheck_at == at582.now + LIMITS.approval_after + timedelta(seconds=1)  # yield 1 s

    # Just before L584 (its output, 856 s later): waiting_for_approval.
    before584 = at_line(steps, 583, before_next=True)
    assert before584.status == "waiting_for_approval"
    assert before584.reason.startswith("line 582: exec_command")
    assert at_line(steps, 584).status == "working"

    # L536 `<turn_aborted>` user text, L537 event turn_aborted reason "interrupted".
    assert at_line(steps, 536).status == "working"
    assert at_line(steps, 537).status == "waiting_for_input"
    assert "interrupted" in at_line(steps, 537).reason
    assert at_line(steps, 538).status == "working"  # the next task_started

    changes = [(line, a, b) for line, a, b in transitions(steps)]
    assert changes == [
        (2, "waiting_for_input", "working"),
        (154, "working", "waiting_for_input"),
        (155, "waiting_for_input", "working"),
        (180, "working", "waiting_for_input"),
        (181, "waiting_for_input", "working"),
        (215, "working", "waiting_for_input"),
        (216, "waiting_for_input", "working"),
        (420, "working", "waiting_for_input"),
        (420, "waiting_for_input", "idle"),  # 15 min 15 s until L421
        (421, "idle", "working"),
        (511, "working", "waiting_for_input"),
        (512, "waiting_for_input", "working"),
        (537, "working", "waiting_for_input"),
        (538, "waiting_for_input", "working"),
        (563, "working", "waiting_for_input"),
        (564, "waiting_for_input", "working"),
        (573, "working", "waiting_for_input"),
        (574, "waiting_for_input", "working"),
        (583, "working", "waiting_for_approval"),
        (584, "waiting_for_approval", "working"),
        (608, "working", "waiting_for_input"),
        (608, "waiting_for_input", "idle"),  # 64 min until L609
        (609, "idle", "working"),
        (618, "working", "waiting_for_input"),
        (619, "waiting_for_input", "working"),
        (640, "working", "waiting_for_input"),
        (641, "waiting_for_input", "working"),
        (650, "working", "waiting_for_input"),
        (651, "waiting_for_input", "working"),
        (707, "working", "waiting_for_input"),
        (708, "waiting_for_input", "working"),
        (716, "working", "waiting_for_input"),
        (717, "waiting_for_input", "working"),
    ]
    # The file ends on L816 final_answer + L817 token_count: still working 10 s later.
    assert steps[-1].status == "working"


def test_replay_fc(corpus_dir: Path) -> None:
    steps = replay(SRC, INFO, timed_records(SRC, corpus_dir / FC, T0))
    # L1 session_meta alone: no prompt yet; L2 task_started; L274 task_complete.
    assert statuses(steps) == ["waiting_for_input", "working", "waiting_for_input"]
    assert at_line(steps, 273, before_next=True).status == "working"
    assert at_line(steps, 274).status == "waiting_for_input"  # task_complete, last line


def test_no_other_agents_record_is_recognised(corpus_dir: Path) -> None:
    # Claude, and the other agents here: a stray file must not pass for codex.
    wrong = [name for name, record in foreign_records(corpus_dir, "codex") if SRC.recognises(record)]
    assert not wrong
