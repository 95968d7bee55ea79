"""The web panel in a real browser: Debian's Chromium, driven by Playwright, against a
real daemon (`python -m sessiond run`) reading real Claude transcripts in a temp dir."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.panel_helpers import LIVE_TIMEOUT_MS, ClaudeTranscript, Panel, now_iso

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
# Chromium's first reconnect after a kill comes within 1–2 s, later ones back off.
RECONNECT_TIMEOUT_MS = 45_000

COLUMN_OF = {
    "waiting_for_approval": "waiting_for_approval",
    "waiting_for_input": "waiting_for_input",
    "working": "working",
    "idle": "idle",
    "ended": "idle",
}


def sid(n: int) -> str:
    return f"0c0ffee{n:01x}-5e55-4a1d-9a6e-{n:012d}"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    d = make_daemon(tmp_path / "daemon", args=["--no-notify"])
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()


def claude(daemon: DaemonProcess, session_id: str, cwd: str, branch: str = "main") -> ClaudeTranscript:
    return ClaudeTranscript(daemon.claude_projects, session_id, cwd, branch)


def top_level(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [s for s in daemon.sessions().values() if not s.get("parent_id")]


def controls(daemon: DaemonProcess) -> dict[str, Any]:
    status, body = daemon.get("/api/controls")
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---- tests ------------------------------------------------------------------------------


def test_snapshot_then_transcript_lines_move_the_card(
    daemon: DaemonProcess, panel_factory: Callable[..., Panel]
) -> None:
    first = claude(daemon, sid(1), "/home/u/proj")
    first.prompt("fix the bug")
    daemon.start()
    panel = panel_factory(daemon)
    page = panel.open()

    # The snapshot built the board.
    panel.wait_column(sid(1), "working")
    assert panel.card(sid(1)).locator(".title").text_content() == "fix the bug"
    assert panel.card(sid(1)).locator(".project").text_content() == "proj"
    assert page.title() == "sessiond"

    # The turn ends: the card moves to "Waiting for input", highlighted, and the tab
    # title counts it.
    first.reply("Done.")
    panel.wait_column(sid(1), "waiting_for_input")
    assert "is-fresh" in (panel.card(sid(1)).get_attribute("class") or "")
    page.wait_for_function("() => document.title === '(1) sessiond'")
    assert panel.card(sid(1)).locator(".time").text_content().startswith("waiting ")
    # The favicon became a drawn badge (a data: URL, as the CSP allows).
    page.wait_for_function("() => document.querySelector('#favicon').href.startsWith('data:image/png')")

    # A new prompt: back to work.
    first.prompt("now add a test")
    panel.wait_column(sid(1), "working")
    page.wait_for_function("() => document.title === 'sessiond'")

    # A Bash call under the default permission mode, with no progress: approval.
    first.tool("Bash", {"command": "git push origin main", "description": "Push"})
    panel.wait_column(sid(1), "waiting_for_approval")
    tool = panel.card(sid(1)).locator(".tool")
    assert tool.locator(".tool-name").text_content() == "Bash"
    assert "git push origin main" in (tool.locator(".tool-summary").text_content() or "")

    # A session that starts while the page is open gets its own card.
    second = claude(daemon, sid(2), "/home/u/other", branch="feature/x")
    second.prompt("write the docs")
    panel.wait_column(sid(2), "working")
    assert panel.card(sid(2)).locator(".branch-name").text_content() == "feature/x"

    assert [row[0] for row in panel.board()].count(sid(1)) == 1
    # One event stream, and no polling: everything above came over it.
    paths = [url.removeprefix(daemon.base_url) for url in panel.requests]
    assert [p for p in paths if p.startswith("/events")] == ["/events"], paths
    assert not [p for p in paths if p.startswith("/api/sessions")], paths
    assert panel.errors == []
    assert panel.csp_violations() == []


def test_the_login_link_opens_the_panel_and_leaves_no_token_behind(
    daemon: DaemonProcess, panel_factory: Callable[..., Panel]
) -> None:
    """What `sessiond open` does, in Chromium: the login link, then the panel at `/`."""
    daemon.start()
    panel = panel_factory(daemon, logged_in=False)
    page = panel.page
    page.goto(f"{daemon.base_url}/")
    assert "sessiond open" in (page.text_content("body") or "")  # 401: how to get in
    token = daemon.token
    page.goto(f"{daemon.base_url}/login?token={token}")
    panel.wait_live()
    assert page.url == f"{daemon.base_url}/"  # the token left the address bar at once
    assert token not in page.content()
    assert token not in page.evaluate("() => document.cookie")  # HttpOnly: not readable
    assert panel.errors == []


def test_kill_and_restart_the_daemon(daemon: DaemonProcess, panel_factory: Callable[..., Panel]) -> None:
    a = claude(daemon, sid(3), "/home/u/alpha")
    a.prompt("refactor the parser")
    b = claude(daemon, sid(4), "/home/u/beta")
    b.prompt("update deps")
    b.reply("Updated three packages.")
    daemon.start()
    panel = panel_factory(daemon)
    page = panel.open()
    panel.wait_column(sid(3), "working")
    panel.wait_column(sid(4), "waiting_for_input")

    # A clean stop: the daemon says `shutdown`, the page says so and keeps retrying.
    daemon.stop()
    page.wait_for_function(
        "() => document.querySelector('#conn').dataset.state === 'stopped'", timeout=LIVE_TIMEOUT_MS
    )
    assert (page.locator("#conn-label").text_content() or "").startswith("daemon stopped")
    daemon.start()
    panel.wait_live(timeout=RECONNECT_TIMEOUT_MS)
    panel.wait_column(sid(3), "working")

    # A crash: no goodbye, just a dead socket.
    daemon.kill()
    page.wait_for_function(
        "() => ['reconnecting', 'offline'].includes(document.querySelector('#conn').dataset.state)",
        timeout=LIVE_TIMEOUT_MS,
    )
    assert "retrying" in (page.locator("#conn-label").text_content() or "")

    # While the daemon is down, sessions change and a new one starts.
    a.reply("Parser refactored.")
    c = claude(daemon, sid(5), "/home/u/gamma")
    c.prompt("add a changelog")

    daemon.start()
    panel.wait_live(timeout=RECONNECT_TIMEOUT_MS)

    def matches() -> bool:
        expected = sorted((s["id"], COLUMN_OF.get(s["status"], "idle")) for s in top_level(daemon))
        shown = sorted((card_id, column) for card_id, column, _ in panel.board())
        return shown == expected

    wait_until(matches, 20, f"the board to match /api/sessions; board: {panel.board()}")
    ids = [row[0] for row in panel.board()]
    assert len(ids) == len(set(ids)), f"duplicate cards: {ids}"
    assert {sid(3), sid(4), sid(5)} <= set(ids)
    panel.wait_column(sid(3), "waiting_for_input")
    panel.wait_column(sid(5), "working")

    # Still live after the restart: a new line moves a card.
    c.reply("Changelog added.")
    panel.wait_column(sid(5), "waiting_for_input")
    assert panel.errors == []
    assert panel.csp_violations() == []


def test_transcript_text_is_shown_as_text(daemon: DaemonProcess, panel_factory: Callable[..., Panel]) -> None:
    evil = claude(daemon, sid(6), "/home/u/<b>proj</b>", branch="<i>b</i>")
    evil.prompt(XSS)
    evil.tool("Bash", {"command": XSS})
    daemon.start()
    panel = panel_factory(daemon)
    page = panel.open()
    panel.wait_column(sid(6), "waiting_for_approval")

    card = panel.card(sid(6))
    assert card.locator(".title").text_content() == XSS
    assert XSS in (card.locator(".tool-summary").text_content() or "")
    assert card.locator(".branch-name").text_content() == "<i>b</i>"
    # Nothing was parsed as markup, and nothing ran.
    assert page.locator("#board img, #board script, #board b, #board i").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert panel.errors == []
    assert panel.csp_violations() == []


def test_toast_link_focuses_the_card(daemon: DaemonProcess, panel_factory: Callable[..., Panel]) -> None:
    for n in range(7, 19):
        t = claude(daemon, sid(n), f"/home/u/p{n}")
        t.prompt(f"task number {n}")
        if n % 2:
            t.reply("Done.")
    daemon.start()
    panel = panel_factory(daemon, viewport={"width": 400, "height": 500})
    page = panel.open(f"#session={sid(8)}")
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.dataset.id === id", arg=sid(8)
    )
    assert "is-target" in (panel.card(sid(8)).get_attribute("class") or "")
    assert panel.card(sid(8)).is_visible()
    # hashchange moves the focus to another card.
    page.evaluate("id => { location.hash = 'session=' + id }", sid(17))
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.dataset.id === id", arg=sid(17)
    )
    assert "is-target" not in (panel.card(sid(8)).get_attribute("class") or "")
    # Keyboard: j moves to the next card.
    page.keyboard.press("j")
    assert page.evaluate("() => document.activeElement.classList.contains('card')")
    assert page.evaluate("() => document.activeElement.dataset.id") != sid(17)


def test_mute_and_unmute_from_a_card(daemon: DaemonProcess, panel_factory: Callable[..., Panel]) -> None:
    t = claude(daemon, sid(19), "/home/u/noisy")
    t.prompt("long job")
    daemon.start()
    panel = panel_factory(daemon)
    page = panel.open()
    panel.wait_column(sid(19), "working")
    card = panel.card(sid(19))
    card.focus()
    card.locator(".mute-btn").click()
    card.locator(".mute-menu button", has_text="1 h").click()
    wait_until(
        lambda: "noisy" in controls(daemon).get("muted", {}),
        10,
        "the project to be muted",
    )
    page.wait_for_function(
        "id => document.querySelector(`.card[data-id=\"${id}\"]`).dataset.muted === 'true'",
        arg=sid(19),
    )
    assert page.locator("#muted-list").is_visible()
    card.locator(".mute-btn").click()  # a muted project's bell unmutes
    wait_until(
        lambda: "noisy" not in controls(daemon).get("muted", {}),
        10,
        "the project to be unmuted",
    )
    assert panel.errors == []


def _scene(daemon: DaemonProcess) -> None:
    """Sessions in every column, several projects, a subagent, an ended and an old one."""
    hour = 3600.0
    approval = claude(daemon, sid(20), "/home/u/api-server", branch="fix/auth-timeout")
    approval.prompt("The auth middleware times out under load; find out why and fix it")
    approval.tool("Bash", {"command": "git push origin fix/auth-timeout", "description": "Push"})

    edit = claude(daemon, sid(21), "/home/u/web-app", branch="main")
    edit.prompt("Migrate the settings page to the new form components")
    edit.tool("WebFetch", {"url": "https://example.com/docs/forms", "prompt": "read the form API"})

    done = claude(daemon, sid(22), "/home/u/sessiond", branch="panel")
    done.prompt("Write the README section on quiet hours")
    done.reply("Added a Quiet hours section with the CLI and config examples.")

    asked = claude(daemon, sid(23), "/home/u/infra", branch="main")
    asked.prompt("Rotate the staging TLS certificates")
    asked.tool(
        "AskUserQuestion",
        {"questions": [{"question": "Renew via ACME or upload the vendor cert?"}]},
    )

    parent = claude(daemon, sid(24), "/home/u/web-app", branch="perf/bundle")
    parent.prompt("Cut the JS bundle size by splitting vendor chunks")
    parent.tool("Task", {"description": "Measure bundle sizes", "prompt": "run the analyzer"})
    child = parent.subagent("a1b2c3d4")
    child.prompt("Run the bundle analyzer and list the five largest modules")
    child.tool("Bash", {"command": "npx vite-bundle-visualizer --json"})

    work = claude(daemon, sid(25), "/home/u/api-server", branch="main")
    work.prompt("Add pagination to GET /v2/orders with cursor tokens")

    idle = claude(daemon, sid(26), "/home/u/docs-site", branch="main")
    idle.prompt("Fix the broken links in the getting-started guide", at=now_iso(-2 * hour))
    idle.reply("Fixed 7 links.", at=now_iso(-2 * hour + 60))
    idle.age(2 * hour - 60)

    ended = claude(daemon, sid(27), "/home/u/sessiond", branch="main")
    ended.prompt("Bump the version to 0.3.0", at=now_iso(-120))
    ended.reply("Bumped.", at=now_iso(-100))
    ended.exit(at=now_iso(-90))

    old = claude(daemon, sid(28), "/home/u/legacy-etl", branch="master")
    old.prompt("Port the nightly job to Python 3.12", at=now_iso(-3 * 24 * hour))
    old.reply("Ported.", at=now_iso(-3 * 24 * hour + 60))
    old.age(3 * 24 * hour)


def test_screenshot_of_the_board(
    daemon: DaemonProcess, panel_factory: Callable[..., Panel], tmp_path: Path
) -> None:
    _scene(daemon)
    daemon.start()
    status, body = daemon.request(
        "POST",
        "/api/mute",
        {"project": "infra", "for_s": 3600},
        headers={"Authorization": f"Bearer {daemon.token}"},
    )
    assert status == 204, body
    shots: list[Path] = []
    for name, options in [
        ("board", {"viewport": {"width": 1440, "height": 860}}),
        ("board-dark", {"viewport": {"width": 1440, "height": 860}, "color_scheme": "dark"}),
        ("board-400", {"viewport": {"width": 400, "height": 900}}),
        ("board-400-dark", {"viewport": {"width": 400, "height": 900}, "color_scheme": "dark"}),
    ]:
        panel = panel_factory(daemon, **options)
        page = panel.open()
        panel.wait_column(sid(20), "waiting_for_approval")
        panel.wait_column(sid(21), "waiting_for_approval")
        panel.wait_column(sid(22), "waiting_for_input")
        panel.wait_column(sid(23), "waiting_for_input")
        # The subagent's permission prompt shows in its parent's terminal: the parent
        # waits for approval too (the subagent itself is listed under it).
        panel.wait_column(sid(24), "waiting_for_approval")
        panel.wait_column(sid(25), "working")
        panel.wait_column(sid(26), "idle")
        # Every column has a card; the subagent is listed under its parent, not as a card.
        columns = {column for _, column, _ in panel.board()}
        assert columns == {"waiting_for_approval", "waiting_for_input", "working", "idle"}
        assert panel.card(sid(24)).locator(".sub").count() == 1
        assert {row[0] for row in panel.board()} == {sid(n) for n in range(20, 28)}
        # The three-day-old session is behind the "older" toggle.
        assert page.locator("#older-toggle").is_visible()
        assert panel.card(sid(28)).count() == 0
        page.wait_for_function(
            "id => document.querySelector(`.card[data-id=\"${id}\"]`).dataset.muted === 'true'",
            arg=sid(23),
        )
        page.mouse.move(0, 0)
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
        if name == "board":
            page.locator("#older-toggle").click()
            panel.wait_column(sid(28), "idle")
        assert panel.errors == []
        assert panel.csp_violations() == []
        panel.close()
    for path in shots:
        print(f"panel screenshot: {path}")
        shutil.copyfile(path, Path("/tmp") / f"sessiond-{path.name}")


# ---- the detail view: the whole request, and Allow / Deny ----------------------------------------

CORPUS_INPUTS = [  # (file, line, tool): real tool inputs from ../shared/corpus/claude
    ("entireio__cli__37-995ebed6e4-2-full.jsonl", 65, "Bash"),
    ("d-kimuson__claude-code-viewer__5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl", 45, "Edit"),
    ("d-kimuson__claude-code-viewer__1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl", 25, "Write"),
]


def corpus_input(corpus_dir: Path, name: str, line_no: int, tool: str) -> dict[str, Any]:
    record = json.loads((corpus_dir / "claude" / name).read_text().splitlines()[line_no - 1])
    block = next(b for b in record["message"]["content"] if b.get("type") == "tool_use")
    assert block["name"] == tool
    found: dict[str, Any] = block["input"]
    return found


def hold(daemon: DaemonProcess, session_id: str, tool: str, tool_input: dict[str, Any]) -> threading.Thread:
    """Claude Code's PermissionRequest http hook, waiting for its answer (in a thread)."""
    def post(body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{daemon.base_url}/hooks/claude?hold=60", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=90) as response:
            if body["hook_event_name"] == "PermissionRequest":
                answers[session_id] = (response.status, response.read())

    base = {"session_id": session_id, "cwd": "/home/u/app"}
    post({**base, "hook_event_name": "UserPromptSubmit", "prompt": f"use {tool}"})
    thread = threading.Thread(target=post, args=({**base, "hook_event_name": "PermissionRequest",
                                                  "tool_name": tool, "tool_input": tool_input},), daemon=True)
    thread.start()
    return thread


answers: dict[str, tuple[int, bytes]] = {}


def test_the_detail_view_shows_the_whole_request_and_deny_reaches_the_agent(
    daemon: DaemonProcess, panel_factory: Callable[..., Panel], corpus_dir: Path, tmp_path: Path
) -> None:
    daemon.start()
    ids = {tool: f"{n:08d}-0000-4000-8000-00000000d37a" for n, (_, _, tool) in enumerate(CORPUS_INPUTS)}
    inputs = {tool: corpus_input(corpus_dir, name, line, tool) for name, line, tool in CORPUS_INPUTS}
    inputs["Bash"] = {**inputs["Bash"], "command": inputs["Bash"]["command"]
                      + " && echo '<script>window.__xss = 1</script>'"}
    threads = {tool: hold(daemon, ids[tool], tool, inputs[tool]) for tool in ids}
    wait_until(lambda: all((daemon.sessions().get(i) or {}).get("decision") for i in ids.values()), 20,
               "three held requests")
    panel = panel_factory(daemon)
    page = panel.open()
    for session_id in ids.values():
        panel.wait_column(session_id, "waiting_for_approval")

    # Bash: the full command (a script in it stays text) and its description.
    panel.card(ids["Bash"]).click()
    body = page.locator(".detail .detail-body")
    body.wait_for()
    assert inputs["Bash"]["command"] in (body.locator("pre").first.text_content() or "")
    assert "Format and lint the code" in (body.text_content() or "")
    assert page.evaluate("() => window.__xss") is None
    page.keyboard.press("Escape")

    # Edit: a diff, old lines out, new lines in, with the file's path.
    panel.card(ids["Edit"]).click()
    removed = [line.rstrip("\n") for line in page.locator(".detail .diff-del").all_text_contents()]
    added = [line.rstrip("\n") for line in page.locator(".detail .diff-add").all_text_contents()]
    old_lines = inputs["Edit"]["old_string"].split("\n")
    new_lines = inputs["Edit"]["new_string"].split("\n")
    assert [f"- {line}" for line in old_lines if line not in new_lines] == removed
    assert [f"+ {line}" for line in new_lines if line not in old_lines] == added
    kept = [line.rstrip("\n") for line in page.locator(".detail .diff-same").all_text_contents()]
    assert f"  {old_lines[0]}" in kept  # the lines both share are shown as context
    assert page.locator(".detail .detail-path").first.text_content() == inputs["Edit"]["file_path"]
    page.screenshot(path=str(tmp_path / "detail-edit.png"))
    page.keyboard.press("Escape")

    # Write: the new file's content. Then Deny with a message, clicked as a person would.
    panel.card(ids["Write"]).click()
    assert inputs["Write"]["content"] in (page.locator(".detail pre").first.text_content() or "")
    page.locator(".detail .deny-message").fill("not in this repo, please")
    page.locator(".detail button.deny").click()
    threads["Write"].join(15)
    status, raw = answers[ids["Write"]]
    assert status == 200 and json.loads(raw) == {"hookSpecificOutput": {
        "hookEventName": "PermissionRequest",
        "decision": {"behavior": "deny", "message": "not in this repo, please"}}}
    page.locator(".detail .detail-status").filter(has_text="Denied.").wait_for()

    # Allow asks for a confirmation: the first press only arms it.
    page.keyboard.press("Escape")
    panel.card(ids["Edit"]).focus()
    page.keyboard.press("Enter")
    page.keyboard.press("a")
    assert ids["Edit"] not in answers
    assert page.locator(".detail button.allow").text_content() == "Confirm: allow"
    page.keyboard.press("a")
    threads["Edit"].join(15)
    assert json.loads(answers[ids["Edit"]][1])["hookSpecificOutput"]["decision"] == {"behavior": "allow"}
    assert panel.errors == [] and panel.csp_violations() == []
    # The Bash request is still held; answer it so its agent is not left waiting.
    decision = daemon.sessions()[ids["Bash"]]["decision"]
    assert daemon.request("POST", f"/api/sessions/{ids['Bash']}/decision",
                          {"id": decision["id"], "behavior": "deny"})[0] == 200
    threads["Bash"].join(15)
