"""Toasts on a real notification daemon: Debian's dunst, under Xvfb, on a private D-Bus
session bus the test starts. dunstctl reads back what dunst shows (the tests' own fake
server stays for what dunst cannot show: clicks on Allow/Deny, replies)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemon_proc import make_daemon, running
from tests.fake_notifications import start_private_bus
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


@dataclass
class Dunst:
    env: dict[str, str]
    address: str

    def ctl(self, *args: str) -> str:
        return subprocess.run(["dunstctl", *args], env=self.env, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    def displayed(self) -> int:
        return int(self.ctl("count", "displayed"))

    def history(self) -> list[dict[str, str]]:
        """What dunst showed and closed, newest first: summary and body of each."""
        data = json.loads(self.ctl("history"))["data"][0]
        return [{"summary": n["summary"]["data"], "body": n["body"]["data"]} for n in data]


@pytest.fixture
def dunst(tmp_path: Path) -> Iterator[Dunst]:
    if shutil.which("dunst") is None or shutil.which("Xvfb") is None:
        pytest.fail("dunst and Xvfb are missing (Debian packages `dunst`, `xvfb`)")
    bus, address = start_private_bus(tmp_path / "bus")
    display = next(f":{n}" for n in range(90, 190) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    xvfb = subprocess.Popen(["Xvfb", display, "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists())
    env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address}
    rc = tmp_path / "dunstrc"
    rc.write_text("[global]\n")
    with (tmp_path / "dunst.log").open("wb") as log:
        server = subprocess.Popen(["dunst", "-config", str(rc)], env=env, stdout=log, stderr=log)
    handle = Dunst(env, address)

    def up() -> bool:
        try:
            handle.displayed()
            return True
        except subprocess.CalledProcessError:
            return False

    wait_for(up)
    yield handle
    for proc in (server, xvfb, bus):
        proc.terminate()
        proc.wait(10)


def test_a_wait_is_shown_by_dunst_and_withdrawn_when_the_agent_moves_on(
    dunst: Dunst, tmp_path: Path,
) -> None:
    proc = make_daemon(tmp_path / "d", args=[], extra_env={"DBUS_SESSION_BUS_ADDRESS": dunst.address})
    proc.claude_projects.mkdir(parents=True)
    with running(proc):
        assert "(dunst 1." in proc.get("/health")[1]["components"]["notifier"]["detail"]
        t = ClaudeTranscript(proc.claude_projects, cwd="/home/u/shop", branch="main")
        t.write(t.prompt("deploy it"))
        wait_for(lambda: (proc.sessions().get(t.session_id) or {}).get("status") == "working")
        t.write(t.tool_use("Bash", {"command": "git push origin main"}, tool_id="toolu_1"))
        wait_for(lambda: dunst.displayed() == 1)
        # Answered in the terminal: the agent moves on, and the toast is taken back.
        t.write(t.tool_result("toolu_1", "pushed"))
        wait_for(lambda: dunst.displayed() == 0)
        shown = dunst.history()
        assert shown[0] == {"summary": "Needs approval — shop (main)", "body": "Bash: git push origin main"}
        assert len(shown) == 1
