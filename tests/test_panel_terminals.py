"""The panel reaches the agent's terminal, in real Chromium: Go to terminal on a card makes
its tmux pane the active one, and the detail view's Reply box and a question's option
buttons type into it (a stand-in `claude` records what it reads)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.panel_helpers import Panel
from tests.tmux_server import TmuxServer
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    proc = make_daemon(tmp_path / "d", args=["--no-notify"])
    proc.claude_projects.mkdir(parents=True)
    proc.start()
    yield proc
    proc.kill()


def test_go_to_terminal_and_reply_from_the_panel_reach_the_tmux_pane(
    daemon: DaemonProcess, tmux: TmuxServer, panel_factory: Callable[..., Panel], tmp_path: Path,
) -> None:
    sid, record, cwd = str(uuid.uuid4()), tmp_path / "typed.txt", tmp_path / "shop"
    cwd.mkdir()
    pane = tmux.standin(daemon.claude_projects, sid, record, cwd)
    wait_for(lambda: (daemon.sessions().get(sid) or {}).get("terminal"))
    transcript = ClaudeTranscript(daemon.claude_projects, session_id=sid, cwd=str(cwd))
    transcript.write(transcript.reply("The tests pass. Shall I open the pull request?"))
    panel = panel_factory(daemon)
    page = panel.open()
    panel.wait_column(sid, "waiting_for_input")

    tmux.tmux("select-window", "-t", "main:0")
    panel.card(sid).locator(".goto-btn").click()
    wait_for(lambda: tmux.display(pane, "#{pane_active}#{window_active}") == "11")
    page.locator("#flash-msg").filter(has_text="Focused main:").wait_for()

    panel.card(sid).click()
    page.locator(".detail .detail-where").filter(has_text="Runs in tmux main:").wait_for()
    page.locator(".detail .reply-text").fill("yes, and tag it v1.2")
    page.keyboard.press("Enter")
    assert wait_for(lambda: record.read_text()) == "yes, and tag it v1.2\n"
    page.locator(".detail .detail-status").filter(has_text="Sent to the terminal.").wait_for()
    page.keyboard.press("Escape")

    # A question with options: each option is a button that types its number.
    transcript.write(transcript.prompt("yes, and tag it v1.2"), transcript.tool_use("AskUserQuestion", {
        "questions": [{"question": "Which registry?", "header": "Registry", "multiSelect": False,
                       "options": [{"label": "npm", "description": ""},
                                   {"label": "GitHub", "description": ""}]}],
    }))
    wait_for(lambda: (daemon.sessions().get(sid) or {}).get("pending_tool", {}) and
             daemon.sessions()[sid]["pending_tool"]["name"] == "AskUserQuestion" and
             daemon.sessions()[sid]["status"].startswith("waiting"))
    panel.card(sid).click()
    page.locator(".detail .reply-question").filter(has_text="Which registry?").wait_for()
    page.locator(".detail .reply-option").filter(has_text="2. GitHub").click()
    page.locator(".detail .detail-status").filter(has_text="Sent to the terminal.").wait_for()
    page.locator(".detail .reply-text").fill("")
    page.locator(".detail .reply-send").click()  # Enter alone ends the stand-in's line
    assert wait_for(lambda: record.read_text().count("\n") == 2 and record.read_text()) == \
        "yes, and tag it v1.2\n2\n"
    assert panel.errors == [] and panel.csp_violations() == []
