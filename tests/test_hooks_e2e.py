"""The agents' hooks, end to end: real hook payloads POSTed over TCP to the real daemon,
reconciled with transcript lines written into its watched directories, seen on /events.

Payload shapes: shared/docs/agent-hooks.md §1.5 (Claude Code), §2.1–2.2 (Codex), §3
(Gemini CLI). Tests never assert wall-clock thresholds: "no transition" is checked over a
quiet window longer than the daemon's own deadlines (approval_after 0.5 s, settle 0.3 s).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from tests.daemon_proc import DaemonProcess
from tests.sse import SSEClient, SSEEvent
from tests.transcripts import ClaudeTranscript, now_iso

# Longer than approval_after (0.5 s) and settle_after (0.3 s) of the test daemon.
QUIET = 1.2
FORWARDER = Path(sys.executable).parent / "sessiond-hook"



def post_raw(daemon: DaemonProcess, agent: str, body: bytes, token: str | None) -> tuple[int, Any]:
    req = urllib.request.Request(f"{daemon.base_url}/hooks/{agent}", data=body, method="POST")
    req.add_header("Host", f"127.0.0.1:{daemon.port}")
    req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    return status, json.loads(raw) if raw else None


def hook(daemon: DaemonProcess, agent: str, payload: dict[str, Any]) -> None:
    status, body = post_raw(daemon, agent, json.dumps(payload).encode(), daemon.token)
    assert (status, body) == (204, None)


def claude(t: ClaudeTranscript, event: str, **fields: Any) -> dict[str, Any]:
    """A Claude Code hook payload for the session of `t` (agent-hooks.md §1.5)."""
    return {"session_id": t.session_id, "transcript_path": str(t.path), "cwd": t.cwd,
            "hook_event_name": event, "permission_mode": "default", **fields}  # fmt: skip


def interrupted(t: ClaudeTranscript, tool_id: str) -> list[dict[str, Any]]:
    """What Claude Code writes when the user presses Esc at a permission prompt."""
    rejected = t._envelope("user", message={"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tool_id, "is_error": True,
         "content": "The user doesn't want to proceed with this tool use. The tool use was rejected."}]})
    note = t._envelope("user", message={"role": "user", "content": [
        {"type": "text", "text": "[Request interrupted by user for tool use]"}]})
    return [rejected, note]  # fmt: skip


async def run(argv: list[str], env: dict[str, str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run a hook command as an agent would: payload on stdin (or none), output captured."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 30)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def quiet(events: SSEClient, seconds: float = QUIET) -> list[SSEEvent]:
    """The transitions published over a quiet window."""
    await asyncio.sleep(seconds)
    return [e for e in events.drain() if e.event == "transition"]


async def started(
    daemon: DaemonProcess, events: SSEClient, prompt: str = "fix the tests"
) -> ClaudeTranscript:
    t = ClaudeTranscript(daemon.claude_projects)
    t.write(t.prompt(prompt))
    first = await events.transition_to("working")
    assert first.data["source"] == "transcript"
    hook(daemon, "claude", claude(t, "UserPromptSubmit", prompt=prompt))
    return t


async def test_permission_request_at_once_then_one_transition_back(
    daemon: DaemonProcess, events: SSEClient
) -> None:
    t = await started(daemon, events)
    command = {"command": "rm -rf node_modules"}
    hook(daemon, "claude", claude(t, "PreToolUse", tool_name="Bash", tool_input=command,
                                  tool_use_id="toolu_01ABC"))
    hook(daemon, "claude", claude(t, "PermissionRequest", tool_name="Bash", tool_input=command))
    asking = await events.next_of("transition")
    assert (asking.data["from"], asking.data["to"]) == ("working", "waiting_for_approval")
    assert asking.data["source"] == "hook"
    assert asking.data["session"]["pending_tool"] == {"name": "Bash", "summary": "rm -rf node_modules",
                                                     "input": {"command": "rm -rf node_modules"}}
    assert asking.data["latency_ms"] >= 0

    # The transcript catches up: the tool_use line (no approval guess: hooks say it),
    # then, once approved, its result. One transition back to working, not two.
    t.write(t.tool_use("Bash", command, tool_id="toolu_01ABC"))
    assert await quiet(events) == []
    assert daemon.sessions()[t.session_id]["status"] == "waiting_for_approval"
    t.write(t.tool_result("toolu_01ABC", "removed"))
    back = await events.next_of("transition")
    assert (back.data["from"], back.data["to"]) == ("waiting_for_approval", "working")
    assert back.data["source"] == "transcript"
    hook(daemon, "claude", claude(t, "PostToolUse", tool_name="Bash", tool_input=command,
                                  tool_response={"stdout": "removed"}, tool_use_id="toolu_01ABC"))
    assert await quiet(events) == []

    # The next prompt asks again; this time PostToolUse reports first, and the
    # tool_result line that follows adds nothing.
    hook(daemon, "claude", claude(t, "PermissionRequest", tool_name="Write",
                                  tool_input={"file_path": "/home/u/app/a.txt", "content": "x"}))
    ask2 = await events.transition_to("waiting_for_approval")
    assert ask2.data["session"]["pending_tool"]["summary"] == "/home/u/app/a.txt"
    hook(daemon, "claude", claude(t, "PostToolUse", tool_name="Write",
                                  tool_input={"file_path": "/home/u/app/a.txt"}, tool_use_id="toolu_2"))
    back2 = await events.next_of("transition")
    assert (back2.data["to"], back2.data["source"]) == ("working", "hook")
    t.write(t.tool_use("Write", {"file_path": "/home/u/app/a.txt"}, tool_id="toolu_2"),
            t.tool_result("toolu_2"))
    assert await quiet(events) == []

    status, text = daemon.get("/metrics")
    assert status == 200
    assert 'sessiond_hook_events_total{agent="claude",event="PermissionRequest"} 2' in text
    assert 'sessiond_transition_latency_seconds_count{source="hook"}' in text
    status, seen = daemon.get("/api/hooks")
    assert status == 200 and seen["agents"]["claude"]["last_heard"] is not None
    assert seen["agents"]["codex"]["last_heard"] is None


async def test_stop_then_final_text_is_one_transition(daemon: DaemonProcess, events: SSEClient) -> None:
    t = await started(daemon, events)
    hook(daemon, "claude", claude(t, "Stop", stop_hook_active=False,
                                  last_assistant_message="Done. All tests pass."))
    done = await events.next_of("transition")
    assert (done.data["from"], done.data["to"], done.data["source"]) == (
        "working", "waiting_for_input", "hook")
    t.write(t.reply("Done. All tests pass."))
    # Notification after Stop, repeated idle_prompts, a subagent's stop: nothing more.
    idle = claude(t, "Notification", message="Claude is waiting for your input",
                  notification_type="idle_prompt")
    for _ in range(3):
        hook(daemon, "claude", idle)
    hook(daemon, "claude", claude(t, "SubagentStop", stop_hook_active=False, agent_id="def456",
                                  agent_type="Explore", last_assistant_message="Found 3 issues"))
    assert await quiet(events) == []
    assert daemon.sessions()[t.session_id]["status"] == "waiting_for_input"

    # A subagent finishing mid-turn does not end its parent's turn either.
    hook(daemon, "claude", claude(t, "UserPromptSubmit", prompt="and the docs"))
    assert (await events.transition_to("working")).data["source"] == "hook"
    hook(daemon, "claude", claude(t, "SubagentStop", agent_id="a1", agent_type="Explore"))
    assert await quiet(events, 0.5) == []


async def test_esc_at_a_permission_prompt_is_seen_in_the_transcript(
    daemon: DaemonProcess, events: SSEClient
) -> None:
    t = await started(daemon, events)
    command = {"command": "git push origin main"}
    t.write(t.tool_use("Bash", command, tool_id="toolu_9"))
    hook(daemon, "claude", claude(t, "PermissionRequest", tool_name="Bash", tool_input=command))
    assert (await events.transition_to("waiting_for_approval")).data["source"] == "hook"
    # Esc fires no hook: only the transcript says the prompt is gone.
    t.write(*interrupted(t, "toolu_9"))
    back = await events.next_of("transition")
    assert (back.data["from"], back.data["to"], back.data["source"]) == (
        "waiting_for_approval", "waiting_for_input", "transcript")
    assert "interrupt" in back.data["reason"]
    assert await quiet(events) == []


async def test_hooks_with_a_bad_token_or_bad_json_change_nothing(
    daemon: DaemonProcess, events: SSEClient
) -> None:
    t = await started(daemon, events)
    ask = json.dumps(claude(t, "PermissionRequest", tool_name="Bash",
                            tool_input={"command": "rm -rf /"})).encode()
    assert post_raw(daemon, "claude", ask, "not-the-token")[0] == 401
    assert post_raw(daemon, "claude", ask, None)[0] == 401
    status, body = post_raw(daemon, "claude", b'{"session_id": "x", "hook_event_name": ', daemon.token)
    assert status == 400
    assert body["error"].endswith(".") and body["error"].count(".") == 1
    assert post_raw(daemon, "claude", b"[1, 2]", daemon.token)[0] == 400
    # Unknown events and fields are accepted and ignored.
    hook(daemon, "claude", claude(t, "TaskCreated", task={"id": 1}, novel_field=[1, 2, 3]))
    hook(daemon, "claude", {"hook_event_name": "PreToolUse", "tool_name": "Bash"})  # no session
    assert await quiet(events, 0.5) == []
    assert daemon.sessions()[t.session_id]["status"] == "working"
    assert list(daemon.sessions()) == [t.session_id]


async def test_a_hook_for_an_unknown_session_creates_it_then_meets_its_transcript(
    daemon: DaemonProcess, events: SSEClient
) -> None:
    sid = str(uuid.uuid4())
    t = ClaudeTranscript(daemon.claude_projects, session_id=sid, cwd="/home/u/shop")
    hook(daemon, "claude", claude(t, "UserPromptSubmit", prompt="add a cart page"))
    created = await events.next_of("transition")
    assert (created.data["from"], created.data["to"], created.data["source"]) == (None, "working", "hook")
    session = created.data["session"]
    assert (session["id"], session["agent"], session["project"], session["title"]) == (
        sid, "claude", "shop", "add a cart page")

    # Its transcript appears: the same session, now told by its file as well.
    t.write(t.prompt("add a cart page"))
    assert await quiet(events, 0.6) == []
    t.write(t.reply("The cart page is in place."))
    done = await events.next_of("transition")
    assert (done.data["from"], done.data["to"], done.data["source"]) == (
        "working", "waiting_for_input", "transcript")
    assert done.data["session"]["branch"] == "main"  # from the transcript
    assert list(daemon.sessions()) == [sid]


async def test_codex_and_gemini_through_the_forwarder(daemon: DaemonProcess, events: SSEClient) -> None:
    env = {**daemon.env}
    thread = "B5F6C1C2-1111-2222-3333-444455556666"
    notify = {"type": "agent-turn-complete", "thread-id": thread, "turn-id": "12345",
              "cwd": "/home/u/project", "client": "codex-tui",
              "input-messages": ["Rename `foo` to `bar`"],
              "last-assistant-message": "Rename complete."}  # fmt: skip
    # Codex's notify: argv, stdin and stdout null; prints nothing, exits 0.
    assert await run([str(FORWARDER), "codex", json.dumps(notify)], env) == (0, b"", b"")
    codex = await events.next_of("transition")
    assert (codex.data["session_id"], codex.data["to"], codex.data["source"]) == (
        thread.lower(), "waiting_for_input", "hook")
    assert codex.data["session"]["title"] == "Rename `foo` to `bar`"

    # Gemini: command hooks with the payload on stdin; the session is named by the 8
    # characters its chat file will carry.
    gid = "5f0c2a9e-8d1b-4f57-9a59-0c3a1b2c3d4e"
    base = {"session_id": gid, "cwd": "/home/u/app", "timestamp": now_iso()}
    for payload in (
        {**base, "hook_event_name": "BeforeAgent", "prompt": "fix the build"},
        {**base, "hook_event_name": "Notification", "notification_type": "ToolPermission",
         "message": "Tool Confirm Shell Command requires execution",
         "details": {"type": "exec", "title": "Confirm Shell Command", "command": "npm test",
                     "rootCommand": "npm"}},
    ):  # fmt: skip
        assert await run([str(FORWARDER), "gemini"], env, json.dumps(payload).encode()) == (0, b"", b"")
    appeared = await events.next_of("transition")
    assert (appeared.data["session_id"], appeared.data["to"]) == ("5f0c2a9e", "working")
    asking = await events.next_of("transition")
    assert (asking.data["to"], asking.data["source"]) == ("waiting_for_approval", "hook")
    assert asking.data["session"]["pending_tool"] == {"name": "Confirm Shell Command", "summary": "npm test"}

    # `sessiond hook` is the same forwarder; with no daemon to talk to it stays silent.
    payload = json.dumps({**base, "hook_event_name": "AfterAgent", "prompt_response": "Fixed."})
    hook_cmd = [sys.executable, "-m", "sessiond", "hook", "gemini"]
    assert await run(hook_cmd, env, payload.encode()) == (0, b"", b"")
    assert (await events.next_of("transition")).data["to"] == "waiting_for_input"
    # Its chat file appears, named after those 8 characters: the same session.
    chats = daemon.gemini_tmp / "app" / "chats"
    chats.mkdir(parents=True)
    stamp = now_iso()
    records = [{"sessionId": gid, "projectHash": "ab" * 32, "startTime": stamp, "lastUpdated": stamp,
                "kind": "main"},
               {"id": "u1", "timestamp": stamp, "type": "user", "content": [{"text": "fix the build"}]},
               {"id": "g1", "timestamp": stamp, "type": "gemini", "content": "Fixed."}]  # fmt: skip
    (chats / "session-2026-08-20T10-15-5f0c2a9e.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records))
    await asyncio.sleep(QUIET)
    gemini = {k: v for k, v in daemon.sessions().items() if v["agent"] == "gemini"}
    assert list(gemini) == ["5f0c2a9e"]
    assert (gemini["5f0c2a9e"]["status"], gemini["5f0c2a9e"]["project"]) == ("waiting_for_input", "app")

    lonely = {**env, "SESSIOND_STATE_DIR": str(daemon.root / "nowhere")}
    assert await run([str(FORWARDER), "gemini"], lonely, payload.encode()) == (0, b"", b"")


async def _burst(daemon: DaemonProcess, payloads: list[dict[str, Any]]) -> list[int]:
    headers = {"Host": f"127.0.0.1:{daemon.port}", "Authorization": f"Bearer {daemon.token}"}
    limit = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(headers=headers) as http:

        async def one(payload: dict[str, Any]) -> int:
            async with limit, http.post(f"{daemon.base_url}/hooks/claude", json=payload) as resp:
                await resp.read()
                return resp.status

        return await asyncio.gather(*(one(p) for p in payloads))


async def test_a_burst_of_hooks_is_answered(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    cycle = ["UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Stop",
             "Notification", "SubagentStop"]  # fmt: skip

    def payloads(round_no: int) -> list[dict[str, Any]]:
        out = []
        for n in range(1000):
            t = ClaudeTranscript(daemon.claude_projects, session_id=f"burst-{n % 8}")
            out.append(claude(t, cycle[n % len(cycle)], prompt=f"round {round_no} #{n}", tool_name="Bash",
                              tool_input={"command": f"echo {n}"}, notification_type="idle_prompt"))
        return out

    # Behaviour only: every post answered, eight sessions, still healthy. Memory growth
    # over the bursts is a figure of `python -m bench --only shutdown`, not a CI assertion.
    for round_no in (0, 1, 2):
        assert set(await _burst(daemon, payloads(round_no))) == {204}
    assert len(daemon.sessions()) == 8
    assert daemon.get("/health")[0] == 200
    _, text = daemon.get("/metrics")
    assert 'sessiond_hook_events_total{agent="claude",event="Stop"}' in text


def test_a_hook_that_does_not_get_through_is_recorded_where_status_and_doctor_show_it(
    daemon: DaemonProcess, tmp_path: Path,
) -> None:
    """The forwarder always exits 0 (a hook must never break the agent); its failures are
    kept in the state dir instead of vanishing, and a success clears them. The hook here
    runs with a state dir of its own holding a stale copy of the token (the daemon follows
    its own token file, so changing that one would change the daemon's token too)."""
    state = tmp_path / "hook-state"
    state.mkdir()
    (state / "runtime.json").write_text((daemon.state_dir / "runtime.json").read_text())
    (state / "token").write_text("stale-token\n")
    env = {**daemon.env, "SESSIOND_STATE_DIR": str(state)}
    payload = json.dumps({"session_id": "s-1", "hook_event_name": "SessionStart", "cwd": "/w"})

    def forward() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(FORWARDER), "--state-dir", str(state), "claude"], input=payload,
                              capture_output=True, text=True, timeout=30)

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "sessiond", *args], env=env,
                              capture_output=True, text=True, timeout=60).stdout

    for _ in range(2):
        done = forward()
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "the daemon refused the hook's token (401): run `sessiond hooks install` again (2 in a row)" \
        in cli("hooks", "status")
    doctor = cli("doctor")
    assert "Hooks: the last one did not get through:" in doctor and "(401)" in doctor
    (state / "token").write_text((daemon.state_dir / "token").read_text())
    assert forward().returncode == 0
    assert "did not get through" not in cli("hooks", "status")  # it got through: cleared
    (state / "runtime.json").write_text("{not json")
    assert forward().returncode == 0
    assert "the daemon's runtime.json is unreadable" in cli("hooks", "status")
