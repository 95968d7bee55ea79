"""Answering a held permission request from outside the terminal (issue: "Acting on a
wait"). A real daemon; a client posts `PermissionRequest` exactly as Claude Code's http
hook does (payload from agent-hooks.md §1.5) and waits on the response, as Claude does.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon_proc import DEFAULT_SETTINGS, DaemonProcess, make_daemon

SID = "00893aaf-19fa-41d2-8238-13269b9b3ca0"


def payload(event: str, session_id: str = SID, **fields: Any) -> dict[str, Any]:
    base = {"session_id": session_id, "cwd": "/home/u/app", "hook_event_name": event,
            "transcript_path": f"/home/u/.claude/projects/-home-u-app/{session_id}.jsonl"}
    if event == "PermissionRequest":
        base |= {"permission_mode": "default", "tool_name": "Bash",
                 "tool_input": {"command": "rm -rf node_modules", "description": "clean up"},
                 "permission_suggestions": [{"type": "addRules", "rules": [
                     {"toolName": "Bash", "ruleContent": "rm -rf node_modules"}],
                     "behavior": "allow", "destination": "localSettings"}]}
    return base | fields


class Agent:
    """What Claude Code does with its http hooks: POST, then wait for the answer."""

    def __init__(self, daemon: DaemonProcess, http: aiohttp.ClientSession) -> None:
        self.daemon, self.http = daemon, http

    async def post(self, body: dict[str, Any], *, agent: str = "claude", hold: int | None = 60
                   ) -> tuple[int, Any]:
        query = f"?hold={hold}" if hold is not None else ""
        async with self.http.post(f"{self.daemon.base_url}/hooks/{agent}{query}", json=body,
                                  headers={"Authorization": f"Bearer {self.daemon.token}"}) as r:
            text = await r.text()
            return r.status, json.loads(text) if text else None

    def ask(self, session_id: str = SID, hold: int = 60) -> asyncio.Task[tuple[int, Any]]:
        return asyncio.create_task(self.post(payload("PermissionRequest", session_id), hold=hold))


async def held_decision(daemon: DaemonProcess, session_id: str = SID) -> dict[str, Any]:
    for _ in range(400):
        session = daemon.sessions().get(session_id)
        if session and session.get("decision"):
            return dict(session["decision"])
        await asyncio.sleep(0.025)
    raise AssertionError(f"{session_id} never held a decision: {daemon.sessions().get(session_id)}")


async def decision_gone(daemon: DaemonProcess, session_id: str = SID) -> None:
    for _ in range(400):
        if daemon.sessions()[session_id]["decision"] is None:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the decision stayed after the request ended")


def answer(daemon: DaemonProcess, decision: dict[str, Any], behavior: str = "allow",
           session_id: str = SID, **extra: Any) -> tuple[int, Any]:
    return daemon.request("POST", f"/api/sessions/{session_id}/decision",
                          {"id": decision["id"], "behavior": behavior, **extra})


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[DaemonProcess]:
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
    await asyncio.to_thread(proc.start)
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
async def agent(daemon: DaemonProcess) -> AsyncIterator[Agent]:
    # No client-side connection limit: each Claude Code process has its own connection.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        yield Agent(daemon, http)


ALLOW = {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}


async def test_sessiond_approve_answers_the_waiting_hook(daemon: DaemonProcess, agent: Agent) -> None:
    asking = agent.ask()
    decision = await held_decision(daemon)
    assert decision["actions"] == ["allow", "deny"] and decision["since"] < decision["expires"]
    shown = daemon.sessions()[SID]
    assert shown["status"] == "waiting_for_approval"
    assert shown["pending_tool"]["input"] == {"command": "rm -rf node_modules", "description": "clean up"}
    cli = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "sessiond", "approve", SID[:8]],
                                  env=daemon.env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith("Allowed Bash: rm -rf node_modules")
    assert await asyncio.wait_for(asking, 10) == (200, ALLOW)
    await decision_gone(daemon)
    # The same request cannot be answered twice.
    again = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "sessiond", "approve", SID],
                                    env=daemon.env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "answer it in its terminal" in again.stderr


async def test_deny_carries_its_message(daemon: DaemonProcess, agent: Agent) -> None:
    asking = agent.ask()
    decision = await held_decision(daemon)
    status, body = await asyncio.to_thread(answer, daemon, decision, "deny", message="use git clean instead",
                                           via="panel")
    assert (status, body) == (200, {"ok": True})
    assert await asyncio.wait_for(asking, 10) == (200, {"hookSpecificOutput": {
        "hookEventName": "PermissionRequest",
        "decision": {"behavior": "deny", "message": "use git clean instead"}}})


async def test_answered_in_the_terminal_first_the_hook_gets_no_decision(
    daemon: DaemonProcess, agent: Agent
) -> None:
    asking = agent.ask()
    decision = await held_decision(daemon)
    assert (await agent.post(payload("PostToolUse", tool_name="Bash"), hold=None))[0] == 204
    assert await asyncio.wait_for(asking, 10) == (204, None)
    await decision_gone(daemon)
    status, body = await asyncio.to_thread(answer, daemon, decision)
    assert status == 409 and "no longer pending" in body["error"]


async def test_the_agent_dropping_the_connection_releases_the_hold(
    daemon: DaemonProcess, agent: Agent
) -> None:
    asking = agent.ask()
    decision = await held_decision(daemon)
    asking.cancel()  # Claude Code gave up (its timeout, a crash, Ctrl-C)
    await decision_gone(daemon)
    assert (await asyncio.to_thread(answer, daemon, decision))[0] == 409


async def test_the_hold_expires_with_no_decision(daemon: DaemonProcess, agent: Agent) -> None:
    asking = agent.ask(hold=1)
    await held_decision(daemon)
    assert await asyncio.wait_for(asking, 10) == (204, None)  # never allowed on timeout
    await decision_gone(daemon)


async def test_requests_that_must_not_be_held_are_answered_at_once(
    daemon: DaemonProcess, agent: Agent
) -> None:
    # Codex's PermissionRequest blocks before its prompt (openai/codex#39835).
    codex = payload("PermissionRequest", "019a8c3e-0000-7000-8000-000000000001")
    assert await asyncio.wait_for(agent.post(codex, agent="codex"), 10) == (204, None)
    # A subagent's: background agents await the hook before their dialog.
    sub = payload("PermissionRequest", "11111111-19fa-41d2-8238-13269b9b3ca0", agent_id="def456")
    assert await asyncio.wait_for(agent.post(sub), 10) == (204, None)
    # Hooks installed without `?hold=` (a Claude Code not known to race its dialog).
    plain = payload("PermissionRequest", "22222222-19fa-41d2-8238-13269b9b3ca0")
    assert await asyncio.wait_for(agent.post(plain, hold=None), 10) == (204, None)
    for session in daemon.sessions().values():
        assert session["decision"] is None


async def test_answers_need_the_owner_the_right_id_and_the_switch(
    daemon: DaemonProcess, agent: Agent, tmp_path: Path
) -> None:
    asking = agent.ask()
    decision = await held_decision(daemon)
    url = f"/api/sessions/{SID}/decision"
    body = {"id": decision["id"], "behavior": "allow"}
    assert (await asyncio.to_thread(daemon.request, "POST", url, body, auth=False))[0] == 401
    evil = {"Origin": "http://evil.example"}
    assert (await asyncio.to_thread(daemon.request, "POST", url, body, evil))[0] == 403
    assert (await asyncio.to_thread(daemon.request, "POST", url, {**body, "id": "replayed"}))[0] == 409
    assert (await asyncio.to_thread(daemon.request, "POST", url, {**body, "behavior": "maybe"}))[0] == 400
    assert (await asyncio.to_thread(daemon.request, "POST", "/api/sessions/nope/decision", body))[0] == 404
    assert not asking.done()  # none of those answered it
    assert (await asyncio.to_thread(answer, daemon, decision, "deny"))[0] == 200
    assert (await asyncio.wait_for(asking, 10))[1]["hookSpecificOutput"]["decision"] == {"behavior": "deny"}


async def test_decisions_can_be_turned_off(tmp_path: Path) -> None:
    proc = make_daemon(tmp_path / "d", settings=DEFAULT_SETTINGS + "\n[actions]\ndecisions = false\n")
    proc.claude_projects.mkdir(parents=True)
    await asyncio.to_thread(proc.start)
    try:
        async with aiohttp.ClientSession() as http:
            asked = Agent(proc, http).post(payload("PermissionRequest"))
            assert await asyncio.wait_for(asked, 10) == (204, None)
        assert proc.sessions()[SID]["decision"] is None
        status, body = await asyncio.to_thread(answer, proc, {"id": "x"})
        assert status == 409 and "turned off" in body["error"]
    finally:
        proc.kill()


async def test_200_sessions_each_holding_a_request_are_all_answered_right(
    daemon: DaemonProcess, agent: Agent
) -> None:
    ids = [f"{n:08d}-19fa-41d2-8238-13269b9b3ca0" for n in range(200)]
    asking = {sid: agent.ask(sid) for sid in ids}
    decisions = {sid: await held_decision(daemon, sid) for sid in ids}
    for n, sid in enumerate(ids):
        status, _ = await asyncio.to_thread(answer, daemon, decisions[sid], "allow" if n % 2 else "deny",
                                            session_id=sid)
        assert status == 200
    for n, sid in enumerate(ids):
        status, body = await asyncio.wait_for(asking[sid], 10)
        assert status == 200
        assert body["hookSpecificOutput"]["decision"]["behavior"] == ("allow" if n % 2 else "deny")


async def test_allow_on_the_approval_toast_answers_the_held_request(tmp_path: Path) -> None:
    """A real D-Bus session bus with the tests' notification server: the approval toast
    carries Allow and Deny; invoking Allow (ActionInvoked) answers the waiting hook."""
    from tests.desktop import notification_server

    with notification_server(tmp_path / "bus") as toasts:
        proc = make_daemon(tmp_path / "d", args=[], extra_env={"DBUS_SESSION_BUS_ADDRESS": toasts.address})
        proc.claude_projects.mkdir(parents=True)
        await asyncio.to_thread(proc.start)
        try:
            async with aiohttp.ClientSession() as http:
                agent = Agent(proc, http)
                # Toasts are for Working→Waiting: the turn starts, then the prompt appears.
                assert (await agent.post(payload("UserPromptSubmit", prompt="clean up"), hold=None))[0] == 204
                asking = agent.ask()
                await held_decision(proc)
                calls = await asyncio.to_thread(toasts.wait_for, 1)
                toast = calls[0]
                assert toast["summary"].startswith("Needs approval")
                assert toast["body"] == "Bash: rm -rf node_modules"
                keys = toast["actions"][0::2]
                assert {"allow", "deny", "mute"} <= set(keys)
                clicked = await asyncio.to_thread(subprocess.run, [
                    "dbus-send", f"--bus={toasts.address}", "--dest=org.freedesktop.Notifications",
                    "--type=method_call", "--print-reply", "/org/freedesktop/Notifications",
                    "org.sessiond.FakeNotifications.InvokeAction", f"uint32:{toast['id']}", "string:allow",
                ], capture_output=True, text=True, timeout=30)
                assert clicked.returncode == 0, clicked.stderr
                assert await asyncio.wait_for(asking, 10) == (200, ALLOW)
            _, metrics = await asyncio.to_thread(proc.get, "/metrics")
            assert 'sessiond_decisions_total{behavior="allow",via="toast"} 1' in metrics
        finally:
            proc.kill()


async def test_one_session_carries_the_last_prompt_and_reply_for_the_detail_view(
    daemon: DaemonProcess,
) -> None:
    from tests.transcripts import ClaudeTranscript

    t = ClaudeTranscript(daemon.claude_projects)
    t.write(t.prompt("first question"), t.reply("first answer"), t.prompt("clean the build <b>now</b>"),
            t.tool_use("Bash", {"command": "rm -rf build", "description": "clean"}))
    for _ in range(200):
        status, body = await asyncio.to_thread(daemon.get, f"/api/sessions/{t.session_id}")
        if status == 200 and body["pending_tool"]:
            break
        await asyncio.sleep(0.05)
    assert body["last_prompt"] == "clean the build <b>now</b>"  # shown as text by the panel
    assert body["last_reply"] == "first answer"
    assert body["pending_tool"]["input"] == {"command": "rm -rf build", "description": "clean"}
    # The list and the stream stay light: no excerpts there.
    listed = (await asyncio.to_thread(daemon.get, "/api/sessions"))[1]["sessions"][0]
    assert "last_prompt" not in listed and "last_reply" not in listed
