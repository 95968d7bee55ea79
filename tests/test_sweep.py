"""The safety net: a stat sweep finds what the file watcher misses."""

from __future__ import annotations

from pathlib import Path

from tests.daemon_proc import make_daemon, running
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


def test_the_stat_sweep_finds_a_change_the_watcher_missed(tmp_path: Path) -> None:
    """End to end: watchfiles told to hold its changes for ten minutes (a watcher that
    misses them), a sweep every second: a new line is still picked up, by the sweep."""
    settings = ('[daemon]\nwatch_backend = "watchfiles"\nwatch_step_ms = 600000\nwatch_debounce_ms = 600000\n'
                "sweep_every_s = 1\napproval_after_s = 0.5\nsettle_after_s = 0.3\n")
    proc = make_daemon(tmp_path / "d", settings=settings)
    proc.claude_projects.mkdir(parents=True)
    t = ClaudeTranscript(proc.claude_projects, cwd="/home/u/app")
    t.write(t.prompt("first"))
    with running(proc):
        assert proc.sessions()[t.session_id]["status"] == "working"  # found at start
        t.write(t.reply("done"))
        wait_for(lambda: proc.sessions()[t.session_id]["status"] == "waiting_for_input")
