"""A client that stops reading is cut off; the others keep receiving everything."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.daemon_proc import DEFAULT_SETTINGS, make_daemon
from tests.sse import SSEClient


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_a_stalled_client_is_dropped_while_another_keeps_receiving(tmp_path: Path) -> None:
    proc = make_daemon(tmp_path / "d", settings=DEFAULT_SETTINGS + "client_queue = 50\n")
    proc.start()
    stalled = socket.socket()
    try:
        # A client that connects, asks for the stream, and never reads a byte.
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", proc.port))
        stalled.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{proc.port}\r\n"
                        f"Authorization: Bearer {proc.token}\r\n\r\n".encode())
        async with SSEClient(f"{proc.base_url}/events", token=proc.token) as good:
            snapshot = await good.next_of("snapshot")
            headers = {"Host": f"127.0.0.1:{proc.port}", "Authorization": f"Bearer {proc.token}"}
            sent = 0
            async with aiohttp.ClientSession(headers=headers) as http:
                # Alternate approval prompts and tool results on a few sessions: each
                # post is one transition, with a long title to make every frame big.
                for round_no in range(3000):
                    for n in range(5):
                        event = "PermissionRequest" if round_no % 2 == 0 else "PostToolUse"
                        payload: dict[str, Any] = {
                            "session_id": f"s{n}", "hook_event_name": event, "cwd": f"/w/p{n}",
                            "tool_name": "Bash", "tool_input": {"command": "x" * 250},
                        }
                        async with http.post(f"{proc.base_url}/hooks/claude", json=payload) as r:
                            assert r.status == 204
                        sent += 1
                    _, metrics = proc.get("/metrics")
                    if _metric(metrics, "sessiond_sse_clients_dropped_total") >= 1:
                        break
            _, metrics = proc.get("/metrics")
            assert _metric(metrics, "sessiond_sse_clients_dropped_total") == 1
            # The good client got every transition, in order, none missing.
            deadline = time.monotonic() + 20
            received: list[Any] = []
            last_id = proc.get("/api/sessions")[1]["last_event_id"]
            while (not received or received[-1].id != last_id) and time.monotonic() < deadline:
                received.append(await good.next(timeout=10))
            # No gap, no slack: every id after the snapshot's, and one transition per post
            # (each post moved its session: approval, then working, in turn).
            assert snapshot.id is not None
            assert [e.id for e in received] == list(range(snapshot.id + 1, last_id + 1))
            transitions = [e for e in received if e.event == "transition"]
            assert len(transitions) == sent
            assert proc.get("/health")[1]["clients"] == 1
    finally:
        stalled.close()
        proc.kill()


async def test_many_clients_each_get_the_same_events(tmp_path: Path) -> None:
    proc = make_daemon(tmp_path / "d")
    proc.start()
    try:
        clients = [SSEClient(f"{proc.base_url}/events", token=proc.token) for _ in range(20)]
        await asyncio.gather(*(c.connect() for c in clients))
        for c in clients:
            await c.next_of("snapshot")
        headers = {"Host": f"127.0.0.1:{proc.port}", "Authorization": f"Bearer {proc.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            payload = {"session_id": "fan", "hook_event_name": "PermissionRequest", "cwd": "/w/fan",
                       "tool_name": "Bash", "tool_input": {"command": "make"}}
            async with http.post(f"{proc.base_url}/hooks/claude", json=payload) as r:
                assert r.status == 204
        got = await asyncio.gather(*(c.transition_to("waiting_for_approval") for c in clients))
        assert len({(e.id, e.data["session_id"]) for e in got}) == 1
        await asyncio.gather(*(c.close() for c in clients))
    finally:
        proc.kill()
