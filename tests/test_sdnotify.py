"""sd_notify against a real bound AF_UNIX datagram socket, as systemd's manager binds it:
a filesystem path, and an abstract (`@name`) socket."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sessiond.service import sdnotify


def _bound(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify"
    sock = _bound(str(path))
    yield sock, str(path)
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"sessiond-test-{uuid.uuid4().hex}"
    sock = _bound(b"\0" + name.encode())
    yield sock, "@" + name
    sock.close()


def _drain(sock: socket.socket) -> list[bytes]:
    """Everything queued on the (non-blocking) socket right now."""
    got = []
    try:
        while True:
            got.append(sock.recv(4096))
    except BlockingIOError:
        pass
    return got


def test_notify_without_socket_is_a_no_op() -> None:
    assert sdnotify.notify("READY=1", env={}) is False
    assert sdnotify.notify("READY=1", env={"NOTIFY_SOCKET": ""}) is False
    # Addresses this implementation does not speak are ignored, not errors.
    assert sdnotify.notify("READY=1", env={"NOTIFY_SOCKET": "vsock:2:1234"}) is False


def test_notify_to_a_path_socket(path_socket: tuple[socket.socket, str]) -> None:
    sock, address = path_socket
    env = {"NOTIFY_SOCKET": address}
    assert sdnotify.notify("READY=1", env=env) is True
    assert sdnotify.notify("STATUS=watching 3 sessions", env=env) is True
    assert sdnotify.notify("STOPPING=1", env=env) is True
    assert sock.recv(4096) == b"READY=1"
    assert sock.recv(4096) == b"STATUS=watching 3 sessions"
    assert sock.recv(4096) == b"STOPPING=1"


def test_notify_to_an_abstract_socket(abstract_socket: tuple[socket.socket, str]) -> None:
    sock, address = abstract_socket
    assert address.startswith("@")
    assert sdnotify.notify("READY=1", env={"NOTIFY_SOCKET": address}) is True
    assert sock.recv(4096) == b"READY=1"


def test_notify_reads_the_process_environment(
    abstract_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, address = abstract_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    assert sdnotify.notify("READY=1") is True
    assert sock.recv(4096) == b"READY=1"


def test_notify_to_a_missing_socket_returns_false(tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "gone")}
    assert sdnotify.notify("READY=1", env=env) is False
    assert sdnotify.notify("WATCHDOG=1", env=env) is False


def test_watchdog_interval() -> None:
    assert sdnotify.watchdog_interval(env={}) is None
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "30000000"}) == 30.0
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert sdnotify.watchdog_interval(env=mine) == 30.0
    # The watchdog belongs to another process (e.g. a supervising parent).
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert sdnotify.watchdog_interval(env=other) is None
    for bad in ("", "0", "-5", "abc"):
        assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": bad}) is None
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "1", "WATCHDOG_PID": "x"}) is None


async def test_watchdog_loop_without_watchdog_returns_at_once() -> None:
    await asyncio.wait_for(sdnotify.watchdog_loop(env={}), 5)
    # A watchdog but no socket to report to.
    await asyncio.wait_for(sdnotify.watchdog_loop(env={"WATCHDOG_USEC": "1000000"}), 5)


async def test_watchdog_loop_feeds_from_the_event_loop(
    abstract_socket: tuple[socket.socket, str],
) -> None:
    sock, address = abstract_socket
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
    task = asyncio.create_task(sdnotify.watchdog_loop(env=env))
    try:
        for _ in range(3):
            message = await asyncio.wait_for(loop.sock_recv(sock, 4096), 10)
            assert message == b"WATCHDOG=1"
        # A stalled event loop stops feeding the watchdog: nothing is sent while the
        # loop is blocked, however long that is.
        _drain(sock)
        time.sleep(0.5)
        assert _drain(sock) == []
        # Once the loop runs again, so does the watchdog.
        message = await asyncio.wait_for(loop.sock_recv(sock, 4096), 10)
        assert message == b"WATCHDOG=1"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_watchdog_loop_with_explicit_interval(
    path_socket: tuple[socket.socket, str],
) -> None:
    sock, address = path_socket
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(sdnotify.watchdog_loop(0.1, env={"NOTIFY_SOCKET": address}))
    try:
        for _ in range(2):
            assert await asyncio.wait_for(loop.sock_recv(sock, 4096), 10) == b"WATCHDOG=1"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
