"""No local denial of service: what clients hold, and how long a connection may idle, is
bounded, and /health keeps answering. Real daemon, real sockets."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_proc import DEFAULT_SETTINGS, DaemonProcess, make_daemon
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


def metric(daemon: DaemonProcess, name: str) -> float:
    status, text = daemon.get("/metrics")
    assert status == 200
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert found, name
    return float(found.group(1))



@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_clients_that_never_read_are_cut_to_keep_memory_bounded(
    tmp_path: Path, sockets: list[socket.socket]
) -> None:
    daemon = make_daemon(tmp_path / "d", settings=DEFAULT_SETTINGS + "sse_budget_mb = 2\n")
    daemon.claude_projects.mkdir(parents=True)
    for n in range(3000):  # a snapshot of ~2 MB
        t = ClaudeTranscript(daemon.claude_projects, cwd=f"/w/project-{n}")
        t.write(t.prompt(f"task {n}: " + "words of a long first prompt " * 8))
    daemon.start()
    try:
        for _ in range(40):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", daemon.port))
            sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
                         f"Authorization: Bearer {daemon.token}\r\n\r\n".encode())
            sockets.append(sock)  # and never read a byte
        wait_for(lambda: metric(daemon, "sessiond_sse_clients_cut_total") > 0)
        assert metric(daemon, "sessiond_sse_buffered_bytes") <= 2 * 1024 * 1024
        assert daemon.get("/health")[0] == 200
        # A client that reads still gets its snapshot and what happens next.
        status, body = daemon.get("/api/sessions")
        assert status == 200 and len(body["sessions"]) == 3000
    finally:
        daemon.kill()


def test_a_request_head_must_arrive_in_time(tmp_path: Path, sockets: list[socket.socket]) -> None:
    daemon = make_daemon(tmp_path / "d", settings=DEFAULT_SETTINGS + "head_timeout_s = 0.5\n")
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        slow = socket.create_connection(("127.0.0.1", daemon.port))
        sockets.append(slow)
        slow.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n".encode())  # no end
        slow.settimeout(10)
        assert slow.recv(1024) == b""  # closed by the daemon, not answered
        assert metric(daemon, 'sessiond_connections_closed_total{reason="slow_head"}') >= 1
        assert daemon.get("/health")[0] == 200  # a prompt request is answered
    finally:
        daemon.kill()


def test_idle_connections_cannot_take_every_descriptor(tmp_path: Path, sockets: list[socket.socket]) -> None:
    daemon = make_daemon(tmp_path / "d", settings=DEFAULT_SETTINGS + "max_connections = 50\n")
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        for _ in range(150):  # connect and say nothing
            sockets.append(socket.create_connection(("127.0.0.1", daemon.port)))
        assert daemon.get("/health")[0] == 200
        assert metric(daemon, 'sessiond_connections_closed_total{reason="over_limit"}') >= 100
        assert metric(daemon, "sessiond_connections") <= 51
    finally:
        daemon.kill()


def test_connections_never_take_the_last_descriptors(tmp_path: Path, sockets: list[socket.socket]) -> None:
    """With the hard limit at 512 open files (prlimit), 700 idle connections: accept()
    never runs out of descriptors (EMFILE locked everyone out before), /health answers."""
    daemon = make_daemon(tmp_path / "d")
    daemon.prefix = ["prlimit", "--nofile=512:512"]
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        for _ in range(700):
            sockets.append(socket.create_connection(("127.0.0.1", daemon.port)))
        assert daemon.get("/health")[0] == 200
        assert metric(daemon, "sessiond_connections") <= 512 - 256 + 1
        assert "out of system resource" not in daemon.output()
    finally:
        daemon.kill()
