"""An OpenCode session on the panel, in real headless Chromium: its card in the right
column with its agent badge and the command it waits on, and the agent filter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.daemon_proc import make_daemon, running
from tests.opencode_db import Database, assistant, prompt, tool, user
from tests.panel_helpers import Panel
from tests.waiting import wait_for


def test_an_opencode_session_on_the_panel(tmp_path: Path, panel_factory: Callable[..., Panel]) -> None:
    db = Database(tmp_path / "d" / "opencode")
    sid = db.session(directory="/home/dev/acme-api")
    um = db.message(sid, user())
    db.part(sid, um, prompt("ship the release"))
    with running(make_daemon(tmp_path / "d")) as daemon:
        wait_for(lambda: sid in daemon.sessions())
        panel = panel_factory(daemon)
        page = panel.open()
        panel.wait_column(sid, "working")
        am = db.message(sid, assistant(parent=um))
        db.part(sid, am, tool("bash", "running", {"command": "git push origin release"}))
        # What the plugin posts the moment OpenCode asks (exact: no 4 s guess).
        code, _ = daemon.request("POST", "/hooks/opencode", {
            "hook_event_name": "permission.asked", "session_id": sid, "cwd": "/home/dev/acme-api",
            "properties": {"id": "per_1", "sessionID": sid, "permission": "bash",
                           "metadata": {"command": "git push origin release"}}})
        assert code == 204
        panel.wait_column(sid, "waiting_for_approval")
        card = panel.card(sid)
        badge = card.locator(".agent")
        assert badge.inner_text() == "OpenCode" and "agent-opencode" in (badge.get_attribute("class") or "")
        assert "git push origin release" in card.inner_text()
        page.screenshot(path=str(tmp_path / "panel.png"))
        page.select_option("#filter-agent", "claude")
        page.wait_for_function(f"() => !document.querySelector('.card[data-id=\"{sid}\"]')")
        page.select_option("#filter-agent", "opencode")
        panel.wait_column(sid, "waiting_for_approval")
        assert panel.errors == [] and panel.csp_violations() == []
    db.close()
