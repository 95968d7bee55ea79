"""`sessiond status` on real screens: old sessions named from their files' heads and hidden
unless `--all`, rows cut to an 80-column tmux pane, and `--watch` redrawn from the event
stream (the pane read back with `capture-pane`)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.daemon_proc import DaemonProcess, make_daemon, running
from tests.tmux_server import TmuxServer
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


def status(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sessiond", "status", *args], env=daemon.env,
                          capture_output=True, text=True, timeout=60)


def in_pane(daemon: DaemonProcess, *args: str) -> list[str]:
    """`sessiond status ARGS` as a command for a tmux pane, with the daemon's environment."""
    env = [f"{k}={v}" for k, v in daemon.env.items() if k.startswith(("SESSIOND_", "HOME", "PATH"))]
    return ["env", *env, sys.executable, "-m", "sessiond", "status", *args]


def test_old_sessions_are_named_from_their_heads_and_hidden_unless_all(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d")
    old = ClaudeTranscript(daemon.claude_projects, cwd="/home/u/archive-project", branch="release")
    old.write(old.prompt("migrate the billing tables"), old.reply("Migrated."))
    two_days_ago = time.time() - 2 * 86400
    os.utime(old.path, (two_days_ago, two_days_ago))
    fresh = ClaudeTranscript(daemon.claude_projects, cwd="/home/u/web")
    fresh.write(fresh.prompt("fix the form"))
    with running(daemon):
        described = wait_for(lambda: (s := daemon.sessions().get(old.session_id)) and s["title"] and s)
        assert (described["project"], described["branch"], described["title"]) == \
            ("archive-project", "release", "migrate the billing tables")
        assert described["status"] == "idle"
        shown = status(daemon)
        assert "fix the form" in shown.stdout and "migrate the billing" not in shown.stdout
        assert "1 more quiet for over a day (--all shows them)." in shown.stdout
        everything = status(daemon, "--all")
        row = next(line for line in everything.stdout.splitlines() if "migrate the billing" in line)
        assert "archive-project" in row and "release" in row


def test_the_table_fits_an_80_column_pane_and_watch_redraws_on_events(
    tmp_path: Path, tmux: TmuxServer,
) -> None:
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    with running(daemon):
        long = ClaudeTranscript(daemon.claude_projects, cwd="/home/u/a-project-with-a-long-name",
                                branch="feature/a-very-long-branch-name-that-would-wrap-the-row")
        long.write(long.prompt("refactor the payment retry logic so it backs off exponentially " * 2))
        wait_for(lambda: long.session_id in daemon.sessions())
        tmux.tmux("resize-window", "-t", "main", "-x", "80", "-y", "20")
        pane = tmux.window(in_pane(daemon), tmp_path, "once")
        tmux.tmux("resize-window", "-t", "once", "-x", "80", "-y", "20")
        tmux.tmux("set-option", "-t", pane, "remain-on-exit", "on")
        shown = wait_for(lambda: [line for line in tmux.tmux("capture-pane", "-p", "-t", pane).splitlines()
                                  if "refactor" in line])
        assert len(shown) == 1 and len(shown[0]) <= 80  # one row, not wrapped
        assert "feature/" in shown[0] and "…" in shown[0]  # the branch was cut to fit
        watch = tmux.window(in_pane(daemon, "--watch"), tmp_path, "watch")
        wait_for(lambda: "working" in tmux.tmux("capture-pane", "-p", "-t", watch))
        sid = str(uuid.uuid4())
        fresh = ClaudeTranscript(daemon.claude_projects, session_id=sid, cwd="/home/u/shop")
        fresh.write(fresh.prompt("ship it"), fresh.reply("Shipped."))
        wait_for(lambda: "waiting for you" in tmux.tmux("capture-pane", "-p", "-t", watch))
        assert shlex.quote("shop") in tmux.tmux("capture-pane", "-p", "-t", watch)
