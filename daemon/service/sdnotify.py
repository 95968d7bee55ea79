"""sd_notify(3) with the standard library: readiness and watchdog messages for systemd.

The protocol is one datagram on the Unix socket named by `$NOTIFY_SOCKET` (a path, or an
abstract socket written with a leading `@`). Outside systemd the variable is unset and
every function here is a no-op, so the daemon calls them unconditionally:

    notify("READY=1")                         # once the server listens
    asyncio.create_task(watchdog_loop())      # WATCHDOG=1 from the event loop
    notify("STOPPING=1")                      # when shutdown begins

`watchdog_loop` runs on the event loop on purpose: a loop that stalls stops feeding the
watchdog, and systemd (`WatchdogSec=` in the unit) kills and restarts the daemon.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)

# A socket that stopped accepting messages would otherwise warn every watchdog period.
_warned = False


def _address(env: Mapping[str, str]) -> bytes | None:
    raw = env.get("NOTIFY_SOCKET", "")
    if raw.startswith("@"):
        # Abstract namespace (Linux): a leading NUL byte instead of the `@`.
        return b"\0" + os.fsencode(raw[1:])
    if raw.startswith("/"):
        return os.fsencode(raw)
    # Unset, empty, or a form this implementation does not speak (e.g. `vsock:`).
    return None


def notify(message: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Send `message` (e.g. "READY=1") to systemd; True when it was sent.

    Never raises: without `$NOTIFY_SOCKET`, or when the socket is gone, it returns False.
    """
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError as exc:
        global _warned
        if not _warned:
            _warned = True
            log.warning(
                "cannot reach systemd's notify socket; further failures are not logged",
                message=message.split("=", 1)[0],
                error=str(exc),
            )
        return False
    return True


def watchdog_interval(*, env: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd expects, in seconds, or None when there is none.

    From `$WATCHDOG_USEC`; when `$WATCHDOG_PID` is set it must be this process's pid
    (otherwise the watchdog is meant for another process, e.g. a supervising parent).
    """
    env = os.environ if env is None else env
    pid = env.get("WATCHDOG_PID", "")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000


async def watchdog_loop(
    interval: float | None = None, *, env: Mapping[str, str] | None = None
) -> None:
    """Send `WATCHDOG=1` every `interval / 2` seconds until cancelled.

    `interval` defaults to `watchdog_interval()`; when there is no watchdog (or no
    `$NOTIFY_SOCKET`) this returns at once, so it is safe to start unconditionally.
    """
    if interval is None:
        interval = watchdog_interval(env=env)
    if interval is None or interval <= 0 or _address(os.environ if env is None else env) is None:
        return
    period = interval / 2
    while True:
        notify("WATCHDOG=1", env=env)
        await asyncio.sleep(period)
