"""GitHub Copilot CLI: its event log's rules, and the real daemon following a session.

No real `events.jsonl` was found in a public repository, so these events are built from
the CLI's own schema (github/copilot-sdk `nodejs/src/generated/session-events.ts`): the
envelope `{type, data, id, timestamp, parentId}` and each event's data fields as typed
there (see docs/agents/copilot.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.copilot.transcript import CopilotSource, copilot_home

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.waiting import wait_for

T0 = datetime(2026, 9, 2, 23, 42, 5, tzinfo=UTC)
LIMITS = Thresholds()


class Log:
    """A Copilot CLI session's event log, written the way the CLI writes it."""

    def __init__(self, path: Path | None = None, session_id: str | None = None) -> None:
        self.session_id = session_id or str(uuid.uuid4())
        self.path = path
        self.parent: str | None = None
        self.records: list[dict[str, Any]] = []

    def event(self, kind: str, at: datetime | None = None, **data: Any) -> dict[str, Any]:
        eid = str(uuid.uuid4())
        when = (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = {"type": kind, "data": data, "id": eid, "timestamp": when, "parentId": self.parent}
        self.parent = eid
        self.records.append(record)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        return record

    def start(self, cwd: str = "/home/user/source/acme-api", at: datetime | None = None) -> None:
        self.event("session.start", at, sessionId=self.session_id, version=1, producer="copilot-agent",
                   copilotVersion="1.0.82", startTime="2026-09-02T23:42:05.745Z", selectedModel="auto",
                   context={"cwd": cwd, "branch": "dev"})


def replay(log: Log, step: float = 1.0) -> Any:
    source = CopilotSource()
    state = source.new_state(FileInfo("copilot", log.session_id))
    for n, record in enumerate(log.records, start=1):
        state.feed(record, n, T0 + timedelta(seconds=n * step))
    return state


def status_after(log: Log, seconds: float = 1.0) -> tuple[str, str]:
    state = replay(log)
    v = classify(state, T0 + timedelta(seconds=len(log.records) + seconds), LIMITS)
    return v.status, v.reason


def test_a_turn_goes_working_then_waits_for_input() -> None:
    log = Log()
    log.start()
    assert status_after(log)[0] == "waiting_for_input"
    log.event("user.message", content="add a health endpoint")
    log.event("assistant.turn_start", turnId="0")
    assert status_after(log)[0] == "working"
    log.event("assistant.message", messageId="m1", content="",
              toolRequests=[{"toolCallId": "c1", "name": "edit", "arguments": {"path": "api/health.go"}}])
    log.event("assistant.turn_end", turnId="0")
    assert status_after(log)[0] == "working"  # tools come next
    log.event("tool.execution_start", toolCallId="c1", toolName="edit", arguments={"path": "api/health.go"})
    status, reason = status_after(log)
    assert status == "working" and "edit is running" in reason
    log.event("tool.execution_complete", toolCallId="c1", success=True)
    log.event("assistant.turn_start", turnId="1")
    log.event("assistant.message", messageId="m2", content="Added GET /health. Anything else?")
    log.event("assistant.turn_end", turnId="1")
    status, reason = status_after(log)
    assert status == "waiting_for_input" and reason.endswith("reply finished (assistant.turn_end)")
    state = replay(log)
    assert state.meta.title == "add a health endpoint"
    assert (state.meta.cwd, state.meta.project, state.meta.branch) == ("/home/user/source/acme-api",
                                                                       "acme-api", "dev")


def test_a_permission_request_is_an_exact_approval_wait() -> None:
    log = Log()
    log.start()
    log.event("user.message", content="push it")
    log.event("tool.execution_start", toolCallId="c1", toolName="shell",
              arguments={"command": "git push origin dev"})
    log.event("permission.requested", requestId="r1", permissionRequest={
        "kind": "shell", "fullCommandText": "git push origin dev", "intention": "push",
        "canOfferSessionApproval": True, "commands": [], "toolCallId": "c1"})
    state = replay(log)
    v = classify(state, T0 + timedelta(seconds=5), LIMITS)
    assert v.status == "waiting_for_approval"
    assert v.pending_tool is not None and v.pending_tool.summary == "git push origin dev"
    log.event("permission.completed", requestId="r1", result={"kind": "approved"}, toolCallId="c1")
    assert status_after(log)[0] == "working"
    # One a hook already answered is no wait at all.
    log.event("permission.requested", requestId="r2", resolvedByHook=True,
              permissionRequest={"kind": "read", "path": "/etc/hosts", "intention": "read"})
    assert status_after(log)[0] == "working"


def test_a_question_an_interrupt_an_error_and_the_end() -> None:
    log = Log()
    log.start()
    log.event("user.message", content="set up CI")
    log.event("tool.execution_start", toolCallId="q", toolName="ask_user",
              arguments={"question": "GitHub Actions or CircleCI?"})
    status, reason = status_after(log)
    assert status == "waiting_for_input" and "GitHub Actions or CircleCI?" in reason
    log.event("tool.execution_complete", toolCallId="q", success=True)
    assert status_after(log)[0] == "working"
    log.event("abort", reason="user")
    aborted = f"line {len(log.records)}: interrupted by the user (abort)"
    assert status_after(log) == ("waiting_for_input", aborted)
    log.event("user.message", content="again")
    log.event("session.error", errorType="rate_limit", message="Too many requests")
    assert status_after(log)[0] == "waiting_for_input"
    log.event("session.shutdown", shutdownType="routine")
    assert status_after(log)[0] == "ended"


def test_where_the_sessions_are() -> None:
    home = Path("/home/u")
    assert copilot_home({}, home) == home / ".copilot"
    assert copilot_home({"XDG_CONFIG_HOME": "/cfg"}, home) == Path("/cfg/copilot")
    assert copilot_home({"COPILOT_HOME": "/x/cop", "XDG_CONFIG_HOME": "/cfg"}, home) == Path("/x/cop")
    source = CopilotSource()
    root = home / ".copilot" / "session-state"
    info = source.identify(root / "ac13b667" / "events.jsonl", root)
    assert info is not None and info.session_id == "ac13b667"
    older = source.identify(root / "0cb916db.jsonl", root)
    assert older is not None and older.session_id == "0cb916db"
    assert source.identify(root / "ac13b667" / "workspace.yaml", root) is None
    assert source.recognises({"type": "user.message", "data": {}, "id": "e"})
    assert not source.recognises({"type": "user", "message": {}})  # Claude's


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
KINDS = st.sampled_from(["session.start", "user.message", "assistant.message", "assistant.turn_end",
                         "tool.execution_start", "tool.execution_complete", "permission.requested",
                         "permission.completed", "abort", "session.error", "session.shutdown", "x.y"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({"type": KINDS, "data": JSONISH, "id": st.text(max_size=4)}),
                max_size=20))
def test_any_sequence_of_events_classifies_without_error(records: list[dict[str, Any]]) -> None:
    source = CopilotSource()
    state = source.new_state(FileInfo("copilot", "s"))
    for n, record in enumerate(records, start=1):
        state.feed(record, n, T0 + timedelta(seconds=n))
    v = classify(state, T0 + timedelta(seconds=len(records) + 30), LIMITS)
    assert v.status in ("working", "waiting_for_approval", "waiting_for_input", "idle", "ended")
    assert len(v.reason) <= 300


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    proc = make_daemon(tmp_path / "d", extra_env={"COPILOT_HOME": str(tmp_path / "d" / "copilot")})
    (tmp_path / "d" / "copilot" / "session-state").mkdir(parents=True)
    proc.start()
    yield proc
    proc.kill()


def test_the_daemon_follows_a_copilot_session(daemon: DaemonProcess, tmp_path: Path) -> None:
    sid = str(uuid.uuid4())
    log = Log(tmp_path / "d" / "copilot" / "session-state" / sid / "events.jsonl", sid)
    log.start(cwd="/home/user/source/acme-api")
    log.event("user.message", content="push the release branch")
    shown = wait_for(lambda: (s := daemon.sessions().get(sid)) and s["status"] == "working" and s)
    assert (shown["agent"], shown["project"]) == ("copilot", "acme-api")
    assert shown["title"] == "push the release branch"
    log.event("permission.requested", requestId="r1", permissionRequest={
        "kind": "shell", "fullCommandText": "git push origin release", "intention": "push",
        "canOfferSessionApproval": False, "commands": []})
    waiting = wait_for(lambda: (s := daemon.sessions()[sid])["status"] == "waiting_for_approval" and s)
    assert waiting["pending_tool"]["summary"] == "git push origin release"
    log.event("permission.completed", requestId="r1", result={"kind": "approved"})
    wait_for(lambda: daemon.sessions()[sid]["status"] == "working")
    assert log.path is not None
    with log.path.open("a") as fh:  # hostile lines: a record of the wrong shape, garbage
        fh.write('{"type": "user.message", "data": "not an object", "id": "x"}\n{broken\n')
    log.event("assistant.message", messageId="m", content="Pushed.")
    log.event("assistant.turn_end", turnId="0")
    wait_for(lambda: daemon.sessions()[sid]["status"] == "waiting_for_input")
    log.event("session.shutdown", shutdownType="routine")
    wait_for(lambda: daemon.sessions()[sid]["status"] == "ended")
    assert daemon.output().count("skipping bytes that are not JSON") == 1
