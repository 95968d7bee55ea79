"""Restarts lose nothing and repeat nothing: real processes, real signals, real SSE."""

from __future__ import annotations

import asyncio
import itertools
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import DEFAULT_SETTINGS, DaemonProcess, make_daemon
from tests.desktop import notification_server
from tests.sse import SSEClient, SSEEvent
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


def chain_is_whole(events: list[SSEEvent], session_id: str) -> list[tuple[str | None, str]]:
    """The transitions of one session must link up: each starts where the last ended."""
    steps = [(e.data["from"], e.data["to"]) for e in events
             if e.event == "transition" and e.data["session_id"] == session_id]
    for i, ((_, before), (after, _)) in enumerate(itertools.pairwise(steps)):
        assert after == before, (f"{session_id}: a transition is missing or repeated at step {i + 1} "
                                 f"of {len(steps)}: {steps[max(0, i - 2):i + 3]}")
    return steps


async def collect_until(client: SSEClient, session_id: str, status: str, into: list[SSEEvent],
                        timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = await client.next(max(0.01, deadline - loop.time()))
        into.append(event)
        if (event.event == "transition" and event.data["session_id"] == session_id
                and event.data["to"] == status):
            return


async def test_kill_9_and_restart_resumes_every_client_exactly(tmp_path: Path) -> None:
    with notification_server(tmp_path / "bus") as toasts:
        proc = make_daemon(tmp_path / "d", args=[],
                           extra_env={"DBUS_SESSION_BUS_ADDRESS": toasts.address})
        proc.claude_projects.mkdir(parents=True)
        proc.start()
        t = ClaudeTranscript(proc.claude_projects, cwd="/home/u/shop")
        received: dict[str, list[SSEEvent]] = {"a": [], "b": []}
        try:
            a = SSEClient(f"{proc.base_url}/events", token=proc.token)
            b = SSEClient(f"{proc.base_url}/events", token=proc.token)
            await a.connect()
            await b.connect()
            for name, client in (("a", a), ("b", b)):
                received[name].append(await client.next_of("snapshot"))
            t.write(t.prompt("first task"))
            for name, client in (("a", a), ("b", b)):
                await collect_until(client, t.session_id, "working", received[name])
            t.write(t.reply("done with the first"))
            for name, client in (("a", a), ("b", b)):
                await collect_until(client, t.session_id, "waiting_for_input", received[name])
            assert len(toasts.wait_for(1)) == 1  # the first Working→Waiting toasts

            t.write(t.prompt("second task"))
            for name, client in (("a", a), ("b", b)):
                await collect_until(client, t.session_id, "working", received[name])
            # The daemon dies hard while the agent keeps writing.
            proc.kill()
            await a.close()
            await b.close()
            t.write(t.reply("done with the second, while nobody watched"))

            proc.start()
            for name in ("a", "b"):
                last = max(e.id for e in received[name] if e.id is not None)
                async with SSEClient(
                    f"{proc.base_url}/events", token=proc.token, last_event_id=last
                ) as again:
                    await collect_until(again, t.session_id, "waiting_for_input", received[name])
                    first_after = received[name][-1]
                    assert first_after.event != "snapshot"
            for name in ("a", "b"):
                ids = [e.id for e in received[name] if e.id is not None]
                assert ids == sorted(set(ids)), f"client {name}: duplicate or out-of-order ids"
                steps = chain_is_whole(received[name], t.session_id)
                assert steps == [(None, "working"), ("working", "waiting_for_input"),
                                 ("waiting_for_input", "working"), ("working", "waiting_for_input")]
            # The wait that happened while the daemon was down toasts exactly once, and a
            # second restart repeats nothing: a marker session's toast comes next, after
            # any duplicate would have (toasts go out in order), and nothing is between.
            toasts.wait_for(2)
            assert proc.stop() == 0
            proc.start()
            marker = ClaudeTranscript(proc.claude_projects, cwd="/home/u/marker")
            marker.write(marker.prompt("mark"))
            wait_for(lambda: (proc.sessions().get(marker.session_id) or {}).get("status") == "working")
            marker.write(marker.reply("marked"))
            calls = toasts.wait_for(3)
            where = [c["summary"].split(" — ")[1] for c in calls]
            assert where == ["shop (main)", "shop (main)", "marker (main)"]
        finally:
            proc.kill()


async def test_restart_with_nothing_new_publishes_nothing(tmp_path: Path) -> None:
    """20 sessions; stopped (SIGTERM, then kill -9) and started with nothing written in
    between: a client resuming with Last-Event-ID gets no event at all, the last event id
    is unchanged, and the first event it gets is a marker written afterwards (before, a
    clean restart republished a `session` event for every unchanged session)."""
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
    proc.start()
    sessions = [ClaudeTranscript(proc.claude_projects, cwd=f"/w/p{n}") for n in range(20)]
    try:
        async with SSEClient(f"{proc.base_url}/events", token=proc.token) as client:
            await client.next_of("snapshot")
            for t in sessions:
                t.write(t.prompt("p"), t.reply("r"))
            # Their transitions come in any order: wait until every one has arrived.
            left = {t.session_id for t in sessions}
            while left:
                event = await client.next(timeout=30)
                if event.event == "transition" and event.data["to"] == "waiting_for_input":
                    left.discard(event.data["session_id"])
        for stop in (lambda: proc.stop(signal.SIGTERM), proc.kill):
            seen = proc.get("/api/sessions")[1]["last_event_id"]
            stop()
            proc.start()
            assert proc.get("/api/sessions")[1]["last_event_id"] == seen  # nothing new published
            async with SSEClient(f"{proc.base_url}/events", token=proc.token, last_event_id=seen) as resumed:
                marker = ClaudeTranscript(proc.claude_projects, cwd="/w/marker")
                marker.write(marker.prompt("after the restart"))
                first = await resumed.next()
                assert first.event in ("session", "transition")
                assert first.data.get("session_id", first.data.get("id")) == marker.session_id, first
                assert first.id is not None and first.id > seen
                await collect_until(resumed, marker.session_id, "working", [first])
    finally:
        proc.kill()


def test_corrupt_database_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
    t = ClaudeTranscript(proc.claude_projects)
    t.write(t.prompt("p"), t.reply("r"))
    proc.state_dir.mkdir(parents=True)
    (proc.state_dir / "sessiond.db").write_bytes(b"this is not a database" * 100)
    proc.start()
    try:
        assert proc.sessions()[t.session_id]["status"] == "waiting_for_input"
        aside = list(proc.state_dir.glob("sessiond.db.corrupt-*"))
        assert len(aside) == 1
        assert proc.output().count("database unreadable") == 1
        with sqlite3.connect(proc.state_dir / "sessiond.db") as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
    finally:
        proc.kill()


def test_event_ids_keep_increasing_across_restarts(tmp_path: Path) -> None:
    proc: DaemonProcess = make_daemon(tmp_path / "d", settings=DEFAULT_SETTINGS)
    proc.claude_projects.mkdir(parents=True)
    proc.start()
    t = ClaudeTranscript(proc.claude_projects)
    try:
        t.write(t.prompt("p"))
        deadline = time.monotonic() + 15
        body: Any = {}
        while time.monotonic() < deadline:
            _, body = proc.get("/api/sessions")
            if body["last_event_id"] > 0:
                break
            time.sleep(0.05)
        before = body["last_event_id"]
        proc.kill()  # no clean shutdown
        proc.start()
        t.write(t.reply("r"))
        while time.monotonic() < deadline + 15:
            _, body = proc.get("/api/sessions")
            if body["last_event_id"] > before:
                break
            time.sleep(0.05)
        assert body["last_event_id"] > before
        assert body["sessions"][0]["status"] == "waiting_for_input"
    finally:
        proc.kill()


KILLS = 30


@pytest.mark.timeout(300)
async def test_kill_9_under_load_repeats_nothing(tmp_path: Path) -> None:
    """30 times: kill -9 while 20 sessions are being written, restart, resume with
    Last-Event-ID. Every event a client received was committed first, so a restart never
    delivers one again under a new id: no session's chain of transitions repeats a step."""
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
    proc.start()
    sessions = [ClaudeTranscript(proc.claude_projects, cwd=f"/w/p{n}") for n in range(20)]
    stop = threading.Event()

    def write_load() -> None:
        # Each session alternates a prompt (working) and a finished reply (waiting for
        # input), all 20 every 20 ms: about 1,000 transitions a second, enough that the
        # daemon batches its writes and a kill always lands with some events in flight.
        turn = 0
        while not stop.wait(0.02):
            for n, t in enumerate(sessions):
                t.write(t.prompt(f"task {turn}-{n}") if turn % 2 == 0 else t.reply(f"done {turn}-{n}"))
            turn += 1

    writer = threading.Thread(target=write_load, daemon=True)
    writer.start()
    received: list[SSEEvent] = []
    last: int | None = None
    try:
        for kill in range(KILLS):
            async with SSEClient(f"{proc.base_url}/events", token=proc.token, last_event_id=last) as client:
                listen_until = time.monotonic() + 0.3 + (kill % 5) * 0.1
                while time.monotonic() < listen_until:
                    try:
                        event = await client.next(0.05)
                    except TimeoutError:
                        continue
                    received.append(event)
                    last = event.id if event.id is not None else last
            proc.kill()
            proc.start()
        stop.set()
        writer.join(10)
        async with SSEClient(f"{proc.base_url}/events", token=proc.token, last_event_id=last) as client:
            final = proc.get("/api/sessions")[1]["last_event_id"]
            while last is None or last < final:
                event = await client.next(15)
                received.append(event)
                last = event.id if event.id is not None else last
    finally:
        stop.set()
        proc.kill()
    assert not [e for e in received if e.event == "reset"], "a resume lost its place"
    ids = [e.id for e in received if e.event != "snapshot" and e.id is not None]
    assert ids == sorted(set(ids)), "an id came twice or out of order"
    transitions = [e for e in received if e.event == "transition"]
    assert len(transitions) > 1000  # the load really moved sessions across the kills
    for t in sessions:
        chain_is_whole(received, t.session_id)  # a repeated step would break its chain
    seen = Counter((e.data["session_id"], e.data["from"], e.data["to"], e.data["at"]) for e in transitions)
    assert [key for key, n in seen.items() if n > 1] == []
