"""Jump to the agent, end to end: the real daemon, a real tmux server on a private socket,
and a stand-in `claude` process in its panes (tests/standin/claude).

Each test checks what a user would: the session names its pane, `focus` makes that pane
the active one, `send` types into it (the stand-in records what it read), typing into a
working agent is refused, and a gone process takes the terminal away.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.daemon_proc import DaemonProcess, make_daemon, running
from tests.tmux_server import STANDIN, TmuxServer
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
    proc.codex_sessions.mkdir(parents=True)
    proc.start()
    yield proc
    proc.kill()


def session(daemon: DaemonProcess, sid: str) -> dict[str, Any] | None:
    status, body = daemon.get(f"/api/sessions/{sid}")
    return body if status == 200 else None


def terminal_of(daemon: DaemonProcess, sid: str) -> dict[str, Any] | None:
    found = session(daemon, sid)
    return found["terminal"] if found and found.get("terminal") else None


def project(tmp_path: Path, name: str = "app") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def test_the_session_names_its_pane_and_focus_brings_it_to_the_front(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path,
) -> None:
    sid, record = str(uuid.uuid4()), tmp_path / "typed.txt"
    pane = tmux.standin(daemon.claude_projects, sid, record, project(tmp_path))
    terminal = wait_for(lambda: terminal_of(daemon, sid))
    assert terminal["kind"] == "tmux"
    assert terminal["target"] == tmux.display(pane, "#{session_name}:#{window_index}.#{pane_index}")
    assert terminal["can_send"] is True
    assert str(STANDIN) in psutil.Process(terminal["pid"]).cmdline()
    tmux.tmux("select-window", "-t", "main:0")  # the user looks elsewhere
    assert tmux.display(pane, "#{window_active}") == "0"
    status, body = daemon.request("POST", f"/api/sessions/{sid}/focus", {})
    assert status == 200, body
    assert body["terminal"] == terminal
    assert tmux.display(pane, "#{pane_active}#{window_active}") == "11"


def test_send_types_into_a_waiting_agent_and_never_into_a_working_one(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path,
) -> None:
    sid, record, cwd = str(uuid.uuid4()), tmp_path / "typed.txt", project(tmp_path)
    tmux.standin(daemon.claude_projects, sid, record, cwd)
    wait_for(lambda: terminal_of(daemon, sid))
    assert session(daemon, sid)["status"] == "working"  # type: ignore[index]
    status, body = daemon.request("POST", f"/api/sessions/{sid}/input", {"text": "too early", "enter": True})
    assert status == 409 and "working" in body["error"]
    transcript = ClaudeTranscript(daemon.claude_projects, session_id=sid, cwd=str(cwd))
    transcript.write(transcript.reply("Done. Which branch should I push to?"))
    wait_for(lambda: (session(daemon, sid) or {}).get("status") == "waiting_for_input")
    # Shell syntax, a leading dash and key names are typed as the characters they are.
    text = "-n $HOME; echo `id` Enter C-c"
    status, body = daemon.request("POST", f"/api/sessions/{sid}/input", {"text": text, "enter": True})
    assert status == 200, body
    assert wait_for(lambda: record.read_text()) == text + "\n"
    status, body = daemon.request("POST", f"/api/sessions/{sid}/input", {"text": "two\nlines"})
    assert status == 400 and "control characters" in body["error"]
    assert record.read_text() == text + "\n"


def test_the_terminal_goes_when_the_agent_process_exits(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path,
) -> None:
    sid = str(uuid.uuid4())
    tmux.standin(daemon.claude_projects, sid, tmp_path / "typed.txt", project(tmp_path))
    terminal = wait_for(lambda: terminal_of(daemon, sid))
    psutil.Process(terminal["pid"]).kill()
    found = wait_for(lambda: (s := session(daemon, sid)) and s["terminal"] is None
                     and "no running Claude process" in s["terminal_note"] and s)
    assert found["terminal_note"].startswith("no running Claude process was found in ")
    status, body = daemon.request("POST", f"/api/sessions/{sid}/focus", {})
    assert status == 404 and "No terminal is known" in body["error"]


@pytest.mark.parametrize("with_hooks", [True, False], ids=["forwarder-pid", "evidence-only"])
def test_two_agents_in_one_folder(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path, with_hooks: bool,
) -> None:
    """Both start before either session begins: by evidence alone nothing tells them
    apart ("ambiguous", never a guess); the forwarder's pid tells each its own pane."""
    cwd, go = project(tmp_path), tmp_path / "go"
    sids = [str(uuid.uuid4()) for _ in range(2)]
    records = [tmp_path / f"typed-{n}.txt" for n in range(2)]
    panes = [
        tmux.standin(daemon.claude_projects, sid, record, cwd, start_after=go, name=f"agent{n}",
                     hook_state=daemon.state_dir if with_hooks else None)
        for n, (sid, record) in enumerate(zip(sids, records, strict=True))
    ]
    wait_for(lambda: len([p for p in psutil.process_iter(["cmdline"])
                          if str(STANDIN) in (p.info["cmdline"] or [])]) == 2)
    go.touch()
    wait_for(lambda: all(r.exists() for r in records))  # started, hook forwarded
    if with_hooks:
        for sid, pane in zip(sids, panes, strict=True):
            terminal = wait_for(lambda sid=sid: terminal_of(daemon, sid))
            assert terminal["target"] == tmux.display(pane, "#{session_name}:#{window_index}.#{pane_index}")
    else:
        for sid in sids:
            found = wait_for(lambda sid=sid: (s := session(daemon, sid)) and s["terminal_note"] and s)
            assert found["terminal"] is None
            assert found["terminal_note"].startswith("ambiguous: 2 Claude processes run in")


def cli(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sessiond", *args], env=daemon.env,
                          capture_output=True, text=True, timeout=60)


def test_the_cli_focuses_sends_and_doctor_lists_the_terminal(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path,
) -> None:
    sid, record, cwd = str(uuid.uuid4()), tmp_path / "typed.txt", project(tmp_path, "billing")
    pane = tmux.standin(daemon.claude_projects, sid, record, cwd)
    terminal = wait_for(lambda: terminal_of(daemon, sid))
    doctor = cli(daemon, "doctor")
    assert f"{sid[:12]}  billing" in doctor.stdout
    assert f"tmux {terminal['target']} (can type)" in doctor.stdout
    refused = cli(daemon, "send", sid[:8], "hello")
    assert refused.returncode == 1
    assert refused.stderr == "sessiond: The agent is working: sessiond types only into an agent that waits.\n"
    tmux.tmux("select-window", "-t", "main:0")
    focused = cli(daemon, "focus", sid[:8])
    assert focused.returncode == 0, focused.stderr
    assert focused.stdout == f"Focused {terminal['target']} (billing).\n"
    assert tmux.display(pane, "#{pane_active}#{window_active}") == "11"
    transcript = ClaudeTranscript(daemon.claude_projects, session_id=sid, cwd=str(cwd))
    transcript.write(transcript.reply("Shall I deploy?"))
    wait_for(lambda: (session(daemon, sid) or {}).get("status") == "waiting_for_input")
    sent = cli(daemon, "send", sid[:8], "not yet")
    assert sent.returncode == 0, sent.stderr
    assert wait_for(lambda: record.read_text()) == "not yet\n"


def codex_line(kind: str, payload: dict[str, Any]) -> str:
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"timestamp": at, "type": kind, "payload": payload}) + "\n"


def test_a_codex_approval_is_answered_by_typing_its_prompt_keys(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path,
) -> None:
    """Codex's hook cannot answer its prompt, but its terminal can: Allow types "y"."""
    sid, record, cwd = str(uuid.uuid4()), tmp_path / "typed.txt", project(tmp_path)
    codex = tmp_path / "bin" / "codex"  # the stand-in, under Codex's name
    codex.parent.mkdir()
    codex.symlink_to(STANDIN)
    pane = tmux.window([sys.executable, str(codex), str(tmp_path / "unused"), sid, str(record)], cwd, "codex")
    wait_for(record.exists)
    day = daemon.codex_sessions / datetime.now(UTC).strftime("%Y/%m/%d")
    day.mkdir(parents=True)
    rollout = day / f"rollout-{datetime.now(UTC):%Y-%m-%dT%H-%M-%S}-{sid}.jsonl"
    command = {"cmd": "git push origin main", "sandbox_permissions": "require_escalated",
               "justification": "Push outside the sandbox?"}
    rollout.write_text("".join([
        codex_line("session_meta", {"id": sid, "cwd": str(cwd), "cli_version": "0.60.0"}),
        codex_line("event_msg", {"type": "task_started", "turn_id": "t1"}),
        codex_line("turn_context", {"turn_id": "t1", "cwd": str(cwd), "approval_policy": "on-request"}),
        codex_line("event_msg", {"type": "user_message", "message": "push it"}),
        codex_line("response_item", {"type": "function_call", "name": "exec_command", "call_id": "c1",
                                     "arguments": json.dumps(command)}),
    ]))
    shown = wait_for(lambda: (s := session(daemon, sid)) and s["status"] == "waiting_for_approval"
                     and s["decision"] and s)
    assert shown["terminal"]["kind"] == "tmux"
    assert shown["decision"]["id"].startswith("keys-")
    status, body = daemon.request("POST", f"/api/sessions/{sid}/decision",
                                  {"id": "keys-0000000000000000", "behavior": "allow"})
    assert status == 409  # an answer meant for another prompt answers nothing
    status, body = daemon.request("POST", f"/api/sessions/{sid}/decision",
                                  {"id": shown["decision"]["id"], "behavior": "allow"})
    assert status == 200, body
    tmux.tmux("send-keys", "-t", pane, "Enter")  # the stand-in reads lines: end this one
    assert wait_for(lambda: record.read_text()) == "y\n"


def test_a_toast_click_focuses_the_terminal_and_its_reply_is_typed(tmp_path: Path, tmux: TmuxServer) -> None:
    """On a real (private) D-Bus session bus, with a notification server that offers a reply
    field (`inline-reply`, as KDE and GNOME do)."""
    from tests.desktop import notification_server

    with notification_server(tmp_path / "bus", capabilities=["actions", "body", "inline-reply"]) as toasts:
        proc = make_daemon(tmp_path / "d", args=[], extra_env={"DBUS_SESSION_BUS_ADDRESS": toasts.address})
        proc.claude_projects.mkdir(parents=True)
        with running(proc):
            sid, record, cwd = str(uuid.uuid4()), tmp_path / "typed.txt", project(tmp_path, "shop")
            pane = tmux.standin(proc.claude_projects, sid, record, cwd)
            wait_for(lambda: terminal_of(proc, sid))
            transcript = ClaudeTranscript(proc.claude_projects, session_id=sid, cwd=str(cwd))
            transcript.write(transcript.reply("Done. Shall I deploy it?"))
            toast = toasts.wait_for(1)[0]
            assert toast["summary"] == "Waiting for you — shop (main)"
            assert "inline-reply" in toast["actions"][0::2]
            toasts.control("Reply", toast["id"], "yes, deploy to staging")
            assert wait_for(lambda: record.read_text()) == "yes, deploy to staging\n"
            # The next wait's toast, clicked: its terminal comes to the front.
            transcript.write(transcript.prompt("yes, deploy to staging"))
            wait_for(lambda: (session(proc, sid) or {}).get("status") == "working")
            transcript.write(transcript.reply("Deployed. Anything else?"))
            toast = toasts.wait_for(2)[1]
            tmux.tmux("select-window", "-t", "main:0")
            toasts.control("InvokeAction", toast["id"], "default")
            wait_for(lambda: tmux.display(pane, "#{pane_active}#{window_active}") == "11")


def scans(daemon: DaemonProcess) -> int:
    status, text = daemon.get("/metrics")
    assert status == 200
    line = next(line for line in text.splitlines() if line.startswith("sessiond_terminal_scans_total "))
    return int(line.split()[1])


def test_a_restart_keeps_the_terminal_and_publishes_nothing_for_it(
    daemon: DaemonProcess, tmux: TmuxServer, tmp_path: Path,
) -> None:
    """The agent still runs: after a restart its session has the same terminal, and the
    daemon's first look at the process table changes nothing a client sees."""
    sid = str(uuid.uuid4())
    tmux.standin(daemon.claude_projects, sid, tmp_path / "typed.txt", project(tmp_path))
    terminal = wait_for(lambda: terminal_of(daemon, sid))
    seen = daemon.get("/api/sessions")[1]["last_event_id"]
    daemon.stop()
    daemon.start()
    assert terminal_of(daemon, sid) == terminal  # restored at once
    wait_for(lambda: scans(daemon) >= 1)  # looked again: still there
    assert terminal_of(daemon, sid) == terminal
    assert daemon.get("/api/sessions")[1]["last_event_id"] == seen
