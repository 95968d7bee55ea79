"""Several machines, one board: two real daemons (`a` and `b`, their own state dirs and
agent roots) joined by a real redis-server the tests start, with a password."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon, running
from tests.redis_server import RedisServer
from tests.sse import SSEClient, SSEEvent
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def machine(tmp_path: Path, name: str, url: str, *extra: str) -> DaemonProcess:
    proc = make_daemon(tmp_path / name, args=["--no-notify", "--bus", url, "--name", name, *extra])
    proc.claude_projects.mkdir(parents=True)
    return proc


@pytest.fixture
def pair(tmp_path: Path, redis: RedisServer) -> Iterator[tuple[DaemonProcess, DaemonProcess]]:
    a, b = machine(tmp_path, "a", redis.url), machine(tmp_path, "b", redis.url)
    a.start()
    b.start()
    yield a, b
    a.kill()
    b.kill()


def bus_status(daemon: DaemonProcess) -> dict[str, Any]:
    component: dict[str, Any] = daemon.get("/health")[1]["components"]["bus"]
    return component


async def history(daemon: DaemonProcess) -> list[SSEEvent]:
    """Every event the daemon has published, replayed from the start."""
    last = daemon.get("/api/sessions")[1]["last_event_id"]
    events: list[SSEEvent] = []
    async with SSEClient(f"{daemon.base_url}/events", token=daemon.token, last_event_id=0) as client:
        while not events or (events[-1].id or 0) < last:
            events.append(await client.next())
    return events


async def statuses_until(client: SSEClient, sid: str, last: str, seen: list[SSEEvent]) -> list[str]:
    """The statuses `sid` went through on this stream, until `last`."""
    found: list[str] = []
    while not found or found[-1] != last:
        event = await client.next(timeout=20)
        seen.append(event)
        if event.event == "transition" and event.data["session_id"] == sid:
            found.append(event.data["to"])
    return found


async def test_a_session_on_a_shows_on_b_with_its_host_and_every_transition(
    pair: tuple[DaemonProcess, DaemonProcess], redis: RedisServer,
) -> None:
    a, b = pair
    wait_for(lambda: bus_status(a)["status"] == "ok" and bus_status(b)["status"] == "ok")
    assert "***@127.0.0.1" in bus_status(a)["detail"]  # the password is never shown
    assert redis.password not in a.output() + b.output()
    t = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
    async with SSEClient(f"{b.base_url}/events", token=b.token) as on_b:
        await on_b.next_of("snapshot")
        t.write(t.prompt("deploy it"))
        a_working = lambda: (a.sessions().get(t.session_id) or {}).get("status") == "working"  # noqa: E731
        await asyncio.to_thread(wait_for, a_working)
        t.write(t.tool_use("Bash", {"command": "git push origin main"}, tool_id="toolu_1"))
        seen: list[SSEEvent] = []
        assert await statuses_until(on_b, t.session_id, "waiting_for_approval", seen) == \
            ["working", "waiting_for_approval"]
        t.write(t.tool_result("toolu_1", "ok"))
        await statuses_until(on_b, t.session_id, "working", seen)
        t.write(t.reply("Pushed."))
        await statuses_until(on_b, t.session_id, "waiting_for_input", seen)
    # Every transition a published, in order, once, under b's own ids.
    on_a = [(e.data["from"], e.data["to"], e.data["at"]) for e in await history(a) if e.event == "transition"]
    on_b = [(e.data["from"], e.data["to"], e.data["at"]) for e in await history(b) if e.event == "transition"]
    assert on_b == on_a and len(on_a) == 4
    for event in seen:
        session = event.data.get("session", event.data)
        if event.event in ("session", "transition"):
            assert session["host"] == "a" and session["decision"] is None
    ids = [e.id for e in seen if e.id is not None]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # b's own ids, in order
    on_b_api = b.get(f"/api/sessions/{t.session_id}")[1]
    assert on_b_api["host"] == "a" and on_b_api["status"] == "waiting_for_input"
    assert [s["id"] for s in b.get("/api/sessions?host=a")[1]["sessions"]] == [t.session_id]
    assert b.get("/api/sessions?host=b")[1]["sessions"] == []
    assert a.get(f"/api/sessions/{t.session_id}")[1]["host"] == "a"
    # An action on another machine's session is refused, naming that machine.
    actions = (("focus", {}), ("input", {"text": "hi"}), ("decision", {"id": "x", "behavior": "allow"}))
    for action, body in actions:
        status, answer = b.request("POST", f"/api/sessions/{t.session_id}/{action}", body)
        assert status == 409 and "runs on a" in answer["error"], (action, answer)
    # `sessiond status` on b: a HOST column once two machines are known.
    b_local = ClaudeTranscript(b.claude_projects, cwd="/home/u/web")
    b_local.write(b_local.prompt("fix the form"))
    wait_for(lambda: b_local.session_id in b.sessions())
    status = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "sessiond", "status"],
                                     env=b.env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    table = status.stdout.splitlines()
    header = next(line for line in table if line.startswith("STATUS"))
    assert header.split()[:4] == ["STATUS", "FOR", "HOST", "AGENT"]
    assert any(line.split()[4:6] == ["a", "claude"] for line in table if "waiting for you" in line)


async def test_redis_down_keeps_a_serving_and_b_gets_everything_once_it_is_back(
    pair: tuple[DaemonProcess, DaemonProcess], redis: RedisServer,
) -> None:
    a, b = pair
    wait_for(lambda: bus_status(a)["status"] == "ok" and bus_status(b)["status"] == "ok")
    redis.stop()
    wait_for(lambda: bus_status(a)["status"] == "degraded")
    assert redis.password not in json.dumps(a.get("/health")[1])
    t = ClaudeTranscript(a.claude_projects, cwd="/home/u/api")
    async with SSEClient(f"{a.base_url}/events", token=a.token) as on_a:
        await on_a.next_of("snapshot")
        t.write(t.prompt("migrate"))
        await on_a.transition_to("working")
        t.write(t.reply("Migrated."))
        await on_a.transition_to("waiting_for_input")  # a's own clients miss nothing
    redis.start()
    async with SSEClient(f"{b.base_url}/events", token=b.token) as on_b:
        snapshot = await on_b.next_of("snapshot")
        seen = [s["status"] for s in snapshot.data["sessions"] if s["id"] == t.session_id]
        if not seen:  # not there yet: every transition arrives, in order
            assert await statuses_until(on_b, t.session_id, "waiting_for_input", []) == \
                ["working", "waiting_for_input"]
    wait_for(lambda: (b.sessions().get(t.session_id) or {}).get("status") == "waiting_for_input")
    wait_for(lambda: bus_status(a)["status"] == "ok")
    transitions = [e for e in await history(b) if e.event == "transition"
                   and e.data["session_id"] == t.session_id]
    assert [e.data["to"] for e in transitions] == ["working", "waiting_for_input"]  # once each


def test_a_wrong_password_is_one_sentence_and_the_daemon_runs_without_the_bus(
    tmp_path: Path, redis: RedisServer,
) -> None:
    wrong = machine(tmp_path, "w", f"redis://:not-{redis.password}@127.0.0.1:{redis.port}")
    with running(wrong):
        health = wait_for(lambda: (h := wrong.get("/health")[1])["components"]["bus"]["status"] == "degraded"
                          and "refused" in h["components"]["bus"]["detail"] and h)
        assert health["components"]["bus"]["detail"].startswith("redis://***@127.0.0.1")
        assert redis.password not in wrong.output()
        t = ClaudeTranscript(wrong.claude_projects, cwd="/home/u/app")
        t.write(t.prompt("go"))
        wait_for(lambda: t.session_id in wrong.sessions())  # its own sessions still served


def at(record: dict[str, Any], seconds_ago: float) -> dict[str, Any]:
    """A transcript line written `seconds_ago` (the time a transition is dated by)."""
    when = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {**record, "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


async def test_b_killed_and_restarted_gets_exactly_what_it_missed_and_toasts_recent_waits_once(
    tmp_path: Path, redis: RedisServer,
) -> None:
    from tests.desktop import notification_server

    with notification_server(tmp_path / "bus") as toasts:
        a = machine(tmp_path, "a", redis.url)
        b = make_daemon(tmp_path / "b", args=["--bus", redis.url, "--name", "b"],
                        extra_env={"DBUS_SESSION_BUS_ADDRESS": toasts.address})
        b.claude_projects.mkdir(parents=True)
        a.start()
        b.start()
        try:
            recent = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
            old = ClaudeTranscript(a.claude_projects, cwd="/home/u/legacy")
            async with SSEClient(f"{b.base_url}/events", token=b.token) as before:
                await before.next_of("snapshot")
                recent.write(recent.prompt("ship it"))
                event = await before.transition_to("working")  # what a client of b was given
            seen = event.id
            a_seen = a.get("/api/sessions")[1]["last_event_id"]
            b.kill()  # kill -9
            recent.write(recent.reply("Shipped. Tag it?"))
            old.write(at(old.prompt("old work"), 500), at(old.reply("Done 8 minutes ago."), 490))
            wait_for(lambda: (a.sessions().get(recent.session_id) or {}).get("status") == "waiting_for_input"
                     and (a.sessions().get(old.session_id) or {}).get("status") == "waiting_for_input")
            missed = [(e.event, e.data.get("session_id", e.data.get("id")), e.data.get("to"))
                      for e in await history(a) if (e.id or 0) > a_seen]
            b.start()
            async with SSEClient(f"{b.base_url}/events", token=b.token, last_event_id=seen) as resumed:
                got = []
                while len(got) < len(missed):
                    e = await resumed.next(timeout=20)
                    got.append((e.event, e.data.get("session_id", e.data.get("id")), e.data.get("to")))
            assert got == missed  # exactly what b missed: in a's order, under b's ids, once
            # Toasts: the recent wait once; the 8-minute-old one (past the 5-minute window) never.
            marker = ClaudeTranscript(a.claude_projects, cwd="/home/u/marker")
            marker.write(marker.prompt("go"))
            wait_for(lambda: (b.sessions().get(marker.session_id) or {}).get("status") == "working")
            marker.write(marker.reply("Done."))
            calls = toasts.wait_for(2)
            assert [c["summary"] for c in calls] == ["Waiting for you — shop (main) on a",
                                                     "Waiting for you — marker (main) on a"]
        finally:
            a.kill()
            b.kill()


async def test_a_machine_whose_heartbeat_expires_is_shown_offline_and_back(
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    a, b = pair
    t = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
    t.write(t.prompt("work"))
    wait_for(lambda: t.session_id in b.sessions())
    a.kill()
    gone = wait_for(lambda: (s := b.sessions().get(t.session_id)) and s["offline"] and s, timeout=30)
    assert gone["host"] == "a" and gone["status"] == "working"  # kept, not deleted
    a.start()
    wait_for(lambda: b.sessions()[t.session_id]["offline"] is False, timeout=30)


def xadd(redis: RedisServer, fields: dict[str, str]) -> None:
    import redis as redis_py

    client = redis_py.Redis(host="127.0.0.1", port=redis.port, password=redis.password)
    try:
        client.xadd("sessiond:events", fields)  # type: ignore[arg-type]
    finally:
        client.close()


def test_hostile_entries_are_skipped_with_one_warning_each(
    pair: tuple[DaemonProcess, DaemonProcess], redis: RedisServer,
) -> None:
    _, b = pair
    wait_for(lambda: bus_status(b)["status"] == "ok")
    good = {"v": "1", "host": "evil", "kind": "session", "id": "1"}
    session = {"id": "s-1", "agent": "claude", "status": "working", "status_since": "2026-01-01T00:00:00Z",
               "last_activity": "2026-01-01T00:00:00Z"}
    hostile = [
        {"garbage": "x"},
        {**good, "data": "not json"},
        {**good, "data": "x" * (10 * 1024 * 1024)},
        {**good, "data": json.dumps({**session, "agent": "rm -rf"})},
        {**good, "data": json.dumps({**session, "status": 42})},
        {**good, "host": "../../etc", "data": json.dumps(session)},
        {**good, "kind": "transition", "data": json.dumps({"to": "working", "session": session})},
    ]
    for fields in hostile:
        xadd(redis, fields)
    # Text is kept as text (the panel sets textContent) and clipped; the host is the entry's.
    xadd(redis, {**good, "data": json.dumps({**session, "title": "<script>alert(1)</script>" + "t" * 5000,
                                              "host": "someone-else", "decision": {"id": "d"}})})
    shown = wait_for(lambda: b.sessions().get("s-1"))
    assert shown["title"].startswith("<script>alert(1)</script>") and len(shown["title"]) <= 200
    assert shown["host"] == "evil" and shown["decision"] is None
    assert b.get("/health")[0] == 200 and bus_status(b)["status"] == "ok"
    warnings = [line for line in b.output().splitlines() if "a bus entry was skipped" in line]
    assert len(warnings) == len(hostile)


def test_a_stream_trimmed_past_b_s_position_is_rebuilt_from_snapshots(
    tmp_path: Path, redis: RedisServer,
) -> None:
    a = make_daemon(tmp_path / "a", args=["--no-notify", "--bus", redis.url, "--name", "a"],
                    settings="[daemon]\nsettle_after_s = 0.3\n[bus]\nsnapshot_every_s = 1\n")
    a.claude_projects.mkdir(parents=True)
    b = machine(tmp_path, "b", redis.url)
    a.start()
    b.start()
    try:
        t = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
        t.write(t.prompt("work"))
        wait_for(lambda: t.session_id in b.sessions())
        b.stop()
        t.write(t.reply("Done."))
        gone = ClaudeTranscript(a.claude_projects, cwd="/home/u/other")
        gone.write(gone.prompt("more"))
        wait_for(lambda: (a.sessions().get(t.session_id) or {}).get("status") == "waiting_for_input")
        snapshot_of_a = lambda: json.loads(redis.cli("GET", "sessiond:snapshot:a") or "{}")  # noqa: E731
        both = {t.session_id, gone.session_id}
        wait_for(lambda: {s["id"] for s in snapshot_of_a().get("sessions", [])} >= both
                 and any(s["status"] == "waiting_for_input" for s in snapshot_of_a()["sessions"]))
        redis.cli("XTRIM", "sessiond:events", "MAXLEN", "0")  # everything b had not read is gone
        b.start()
        wait_for(lambda: (b.sessions().get(t.session_id) or {}).get("status") == "waiting_for_input")
        assert b.sessions()[gone.session_id]["host"] == "a"
        assert b.output().count("the bus was trimmed past this daemon's position") == 1
    finally:
        a.kill()
        b.kill()


def test_team_mode_shows_the_bus_alone(tmp_path: Path, pair: tuple[DaemonProcess, DaemonProcess],
                                       redis: RedisServer) -> None:
    a, _ = pair
    board = machine(tmp_path, "board", redis.url, "--no-watch")
    with running(board):
        mine = ClaudeTranscript(board.claude_projects, cwd="/srv/nothing")
        mine.write(mine.prompt("not watched"))
        t = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
        t.write(t.prompt("work"))
        wait_for(lambda: t.session_id in board.sessions())
        assert mine.session_id not in board.sessions()
        assert board.sessions()[t.session_id]["host"] == "a"


def test_sigterm_right_after_start_still_exits_cleanly(tmp_path: Path, redis: RedisServer) -> None:
    """Found by hand: a stop while redis-py was connecting left the bus tasks waiting on
    a future nobody completed, and the daemon never exited."""
    import signal

    b = machine(tmp_path, "b", redis.url)
    for _ in range(5):
        b.start()
        assert b.proc is not None
        b.proc.send_signal(signal.SIGTERM)
        assert b.proc.wait(10) == 0


def test_the_panel_shows_both_machines_with_a_badge_a_filter_and_offline_dimmed(
    pair: tuple[DaemonProcess, DaemonProcess], panel_factory: Any, tmp_path: Path,
) -> None:
    a, b = pair
    remote = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
    remote.write(remote.prompt("deploy"), remote.reply("Deployed. Anything else?"))
    local = ClaudeTranscript(b.claude_projects, cwd="/home/u/web")
    local.write(local.prompt("fix the form"))
    wait_for(lambda: {remote.session_id, local.session_id} <= set(b.sessions()))
    panel = panel_factory(b)
    page = panel.open()
    panel.wait_column(remote.session_id, "waiting_for_input")
    assert panel.card(remote.session_id).locator(".host").text_content() == "a"
    assert panel.card(local.session_id).locator(".host").text_content() == "b"
    page.select_option("#filter-host", "a")
    page.wait_for_function("() => document.querySelectorAll('.card').length === 1")
    assert panel.board()[0][0] == remote.session_id
    page.select_option("#filter-host", "")
    a.kill()  # a's heartbeat expires: its card stays, dimmed
    page.wait_for_selector(f'.card.is-offline[data-id="{remote.session_id}"]', timeout=30_000)
    assert panel.card(remote.session_id).locator(".host").text_content() == "a (offline)"
    page.screenshot(path=str(tmp_path / "two-machines.png"))
    assert panel.errors == [] and panel.csp_violations() == []


def test_tls_to_a_plain_server_is_degraded_with_its_reason_and_local_sessions_go_on(
    tmp_path: Path, redis: RedisServer,
) -> None:
    tls = machine(tmp_path, "t", f"rediss://:{redis.password}@127.0.0.1:{redis.port}")
    with running(tls):
        bus = wait_for(lambda: (c := bus_status(tls))["status"] == "degraded"
                       and not c["detail"].endswith(": connecting") and c)
        assert bus["detail"].startswith("rediss://***@127.0.0.1")
        t = ClaudeTranscript(tls.claude_projects, cwd="/home/u/app")
        t.write(t.prompt("go"))
        wait_for(lambda: t.session_id in tls.sessions())
        assert redis.password not in tls.output()
