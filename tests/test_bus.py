"""Several machines, one board: two real daemons (`a` and `b`, their own state dirs and
agent roots) joined by a real redis-server the tests start, with a password."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
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
    pair: tuple[DaemonProcess, DaemonProcess],
) -> None:
    a, b = pair
    wait_for(lambda: bus_status(a)["status"] == "ok" and bus_status(b)["status"] == "ok")
    assert "***@127.0.0.1" in bus_status(a)["detail"]  # the password is never shown
    t = ClaudeTranscript(a.claude_projects, cwd="/home/u/shop")
    async with SSEClient(f"{b.base_url}/events", token=b.token) as on_b:
        await on_b.next_of("snapshot")
        t.write(t.prompt("deploy it"))
        await asyncio.sleep(0.5)
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
    wrong.start()
    try:
        health = wait_for(lambda: (h := wrong.get("/health")[1])["components"]["bus"]["status"] == "degraded"
                          and "refused" in h["components"]["bus"]["detail"] and h)
        assert health["components"]["bus"]["detail"].startswith("redis://***@127.0.0.1")
        assert redis.password not in wrong.output()
        t = ClaudeTranscript(wrong.claude_projects, cwd="/home/u/app")
        t.write(t.prompt("go"))
        wait_for(lambda: t.session_id in wrong.sessions())  # its own sessions still served
    finally:
        wrong.kill()
