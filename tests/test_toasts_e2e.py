"""Toasts from the real daemon process, against the tests' own notification server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.daemon_proc import make_daemon, running
from tests.desktop import notification_server
from tests.sse import SSEClient
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


def test_without_a_notification_backend_the_daemon_is_healthy_but_degraded(tmp_path: Path) -> None:
    proc = make_daemon(tmp_path / "d", args=[])  # toasts wanted, but there is no bus
    with running(proc):
        status, health = proc.get("/health")
        assert status == 200
        assert health["status"] == "degraded"
        notifier = health["components"]["notifier"]
        assert notifier["status"] == "unavailable"
        assert "D-Bus" in notifier["detail"]
        result = subprocess.run([sys.executable, "-m", "sessiond", "status"], env=proc.env,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 1  # degraded, per the contract
        assert "notifier: unavailable" in result.stdout


async def test_an_approval_wait_toasts_once_with_the_pending_command(tmp_path: Path) -> None:
    with notification_server(tmp_path / "bus") as toasts:
        proc = make_daemon(tmp_path / "d", args=[],
                           extra_env={"DBUS_SESSION_BUS_ADDRESS": toasts.address})
        proc.claude_projects.mkdir(parents=True)
        with running(proc):
            assert proc.get("/health")[1]["components"]["notifier"]["status"] == "ok"
            t = ClaudeTranscript(proc.claude_projects, cwd="/home/u/shop", branch="main")
            async with SSEClient(f"{proc.base_url}/events", token=proc.token) as client:
                await client.next_of("snapshot")
                t.write(t.prompt("deploy it"))
                await client.transition_to("working")
                t.write(t.tool_use("Bash", {"command": "git push origin main"}))
                await client.transition_to("waiting_for_approval")
            # Once: a second session's wait toasts next, with nothing between (toasts go
            # out in order, so a duplicate of the first would come before it).
            other = ClaudeTranscript(proc.claude_projects, cwd="/home/u/marker", branch="main")
            other.write(other.prompt("mark"))
            wait_for(lambda: (proc.sessions().get(other.session_id) or {}).get("status") == "working")
            other.write(other.reply("marked"))
            calls = toasts.wait_for(2)
            assert [c["summary"] for c in calls] == ["Needs approval — shop (main)",
                                                     "Waiting for you — marker (main)"]
            toast = calls[0]
            assert toast["app_name"] == "sessiond"
            assert toast["summary"] == "Needs approval — shop (main)"
            assert toast["body"] == "Bash: git push origin main"
            assert "python" not in str(toast.get("app_icon", "")).lower()
            status, metrics = proc.get("/metrics")
            assert status == 200 and "sessiond_toasts_sent_total 2" in metrics


async def test_mute_and_quiet_hours_apply_to_a_running_daemon(tmp_path: Path) -> None:
    """`sessiond mute` and `sessiond quiet` from a shell change what the running daemon
    shows next: no restart, and a marker toast proves the muted one is not just late."""
    import subprocess
    import sys

    with notification_server(tmp_path / "bus") as toasts:
        proc = make_daemon(tmp_path / "d", args=[], extra_env={"DBUS_SESSION_BUS_ADDRESS": toasts.address})
        proc.claude_projects.mkdir(parents=True)
        proc.start()

        def cli(*args: str) -> None:
            done = subprocess.run([sys.executable, "-m", "sessiond", *args], env=proc.env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr

        def wait_in(cwd: str) -> None:
            t = ClaudeTranscript(proc.claude_projects, cwd=cwd, branch="main")
            t.write(t.prompt("go"))
            wait_for(lambda: (proc.sessions().get(t.session_id) or {}).get("status") == "working")
            t.write(t.reply("done"))
            wait_for(lambda: (proc.sessions().get(t.session_id) or {}).get("status") == "waiting_for_input")

        try:
            cli("mute", "shop")
            wait_in("/home/u/shop")
            wait_in("/home/u/web")  # the marker: it toasts, the muted one did not
            assert [c["summary"] for c in toasts.wait_for(1)] == ["Waiting for you — web (main)"]
            cli("unmute", "shop")
            cli("quiet", "00:00-23:59")
            wait_in("/home/u/shop")
            # The toast is decided a moment after the wait (waits close together become
            # one toast): turn quiet hours off only once the daemon has skipped it.
            skipped = 'sessiond_toasts_skipped_total{reason="quiet_hours"} 1'
            wait_for(lambda: skipped in proc.get("/metrics")[1])
            cli("quiet", "off")
            wait_in("/home/u/api")
            calls = toasts.wait_for(2)
            assert [c["summary"] for c in calls] == ["Waiting for you — web (main)",
                                                     "Waiting for you — api (main)"]
        finally:
            proc.kill()
