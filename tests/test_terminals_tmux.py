"""Jump to the agent, end to end: the real daemon, a real tmux server on a private socket,
and a stand-in `claude` process in its panes (tests/standin/claude).

Each test checks what a user would: the session names its pane, `focus` makes that pane
the active one, `send` types into it (the stand-in records what it read), typing into a
working agent is refused, and a gone process takes the terminal away.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.tmux_server import STANDIN, TmuxServer
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


@pytest.fixture
def tmux() -> Iterator[TmuxServer]:
    server = TmuxServer()
    yield server
    server.kill()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
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
    wait_for(lambda: terminal_of(daemon, sid) is None)
    found = session(daemon, sid)
    assert found is not None and "no running Claude process" in found["terminal_note"]
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
