"""The real OpenCode (opencode-ai 1.18.33, installed by scripts/test) followed by the real
daemon: a turn that asks for permission, from storage alone and through the plugin that
`sessiond hooks install --agent opencode` writes. The model is scripted (no network): it
asks to run one bash command, then says "Done."
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.opencode_real import RealOpenCode
from tests.tmux_server import TmuxServer
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("opencode-cache")


def cli(daemon: DaemonProcess, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessiond", *args],
        env={**daemon.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def world(
    tmp_path: Path, cache: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[RealOpenCode, DaemonProcess]]:
    opencode = RealOpenCode(tmp_path / "oc", "echo sessiond-was-here", cache=cache)
    daemon = make_daemon(tmp_path / "d", extra_env={"OPENCODE_DATA_DIR": str(opencode.data_dir)})
    daemon.start()
    try:
        if request.param == "plugin":
            done = cli(
                daemon,
                {"XDG_CONFIG_HOME": str(opencode.config_dir)},
                "hooks",
                "install",
                "--agent",
                "opencode",
            )
            assert done.returncode == 0, done.stderr
            assert (opencode.config_dir / "opencode/plugins/sessiond.js").is_file()
        opencode.start()
        yield opencode, daemon
    finally:
        opencode.stop()
        daemon.kill()


def shown(daemon: DaemonProcess, sid: str) -> dict[str, Any] | None:
    return daemon.sessions().get(sid)


@pytest.mark.parametrize("world", ["storage", "plugin"], indirect=True)
def test_a_real_opencode_turn_with_a_permission(world: tuple[RealOpenCode, DaemonProcess]) -> None:
    opencode, daemon = world
    exact = opencode.config_dir.joinpath("opencode/plugins/sessiond.js").exists()
    sid = opencode.new_session()
    first = wait_for(lambda: shown(daemon, sid), timeout=30)
    assert first["agent"] == "opencode" and first["project"] == "acme-api"
    opencode.prompt(sid, "run the scripted command")
    asked = wait_for(opencode.permissions, timeout=60)[0]
    waiting = wait_for(
        lambda: (s := shown(daemon, sid)) and s["status"] == "waiting_for_approval" and s, timeout=30
    )
    assert waiting["pending_tool"]["name"] == "bash"
    assert "echo sessiond-was-here" in waiting["pending_tool"]["summary"]
    if exact:
        assert "permission.asked hook" in waiting["reason"]
    else:
        assert "inferred" in waiting["reason"]
    opencode.reply(asked["id"], "once")
    done = wait_for(
        lambda: (s := shown(daemon, sid)) and s["status"] == "waiting_for_input" and s, timeout=60
    )
    assert "finish: stop" in done["reason"] or "hook" in done["reason"]
    assert done["title"] == "Run the scripted command"  # OpenCode's generated title
    code, hooks = daemon.get("/api/hooks")
    assert code == 200
    assert (hooks["agents"]["opencode"]["events"] > 0) == exact
    # The database was read while OpenCode wrote it: never a lock error, never a bad row.
    assert "opencode database unreadable" not in daemon.output()
    assert "opencode row skipped" not in daemon.output()


def test_opencode_in_a_tmux_pane(tmp_path: Path, cache: Path, tmux: TmuxServer) -> None:
    """OpenCode's own terminal UI in a real tmux pane: the session names its pane, a focus
    brings it to the front, and answering OpenCode's dialog in the pane moves it on."""
    opencode = RealOpenCode(tmp_path / "oc", "echo from-the-pane", cache=cache)
    opencode.start_model()
    daemon = make_daemon(tmp_path / "d", extra_env={"OPENCODE_DATA_DIR": str(opencode.data_dir)})
    daemon.start()
    try:
        pane = tmux.window(opencode.tui(), opencode.project, "opencode")
        wait_for(lambda: "Ask anything" in tmux.tmux("capture-pane", "-p", "-t", pane), timeout=60)
        tmux.tmux("send-keys", "-t", pane, "-l", "run it")
        tmux.tmux("send-keys", "-t", pane, "Enter")
        waiting = wait_for(lambda: next((s for s in daemon.sessions().values()
                                         if s["agent"] == "opencode" and s["status"] == "waiting_for_approval"
                                         and s.get("terminal")), None), timeout=60)
        # OpenCode is indeed asking (its dialog can take a moment to draw on a busy machine).
        wait_for(lambda: "Permission required" in tmux.tmux("capture-pane", "-p", "-t", pane), timeout=30)
        terminal = waiting["terminal"]
        assert terminal["kind"] == "tmux"
        assert terminal["target"] == tmux.display(pane, "#{session_name}:#{window_index}.#{pane_index}")
        tmux.tmux("select-window", "-t", "main:0")  # the user looks elsewhere
        status, body = daemon.request("POST", f"/api/sessions/{waiting['id']}/focus", {})
        assert status == 200, body
        assert tmux.display(pane, "#{pane_active}#{window_active}") == "11"
        tmux.tmux("send-keys", "-t", pane, "Enter")  # "Allow once", OpenCode's default choice
        wait_for(lambda: daemon.sessions()[waiting["id"]]["status"] == "waiting_for_input", timeout=60)
    finally:
        opencode.stop()
        daemon.kill()
