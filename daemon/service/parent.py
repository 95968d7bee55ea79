"""A daemon started by `run --supervise` exits when its supervisor dies (even `kill -9`),
so no orphan keeps the port and a new `run --supervise` can start.

Linux: `prctl(PR_SET_PDEATHSIG, SIGTERM)` makes the kernel send SIGTERM the moment the
parent dies (a graceful stop). Everywhere: a check every `CHECK_S` that the parent is
still the supervisor that started us (an orphan is re-parented, so `getppid` changes).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger(__name__)

SUPERVISOR_PID_ENV = "SESSIOND_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1
CHECK_S = 1.0


def supervisor_pid(env: Mapping[str, str]) -> int | None:
    raw = env.get(SUPERVISOR_PID_ENV, "")
    return int(raw) if raw.isdigit() else None


def die_with_parent() -> bool:
    """Ask the kernel for SIGTERM when the parent dies (Linux only); True when set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False  # no libc prctl: the check below still catches it


async def watch_parent(expected: int, stop: Callable[[], None]) -> None:
    """Stop the daemon once its parent is no longer the supervisor that started it."""
    while True:
        if os.getppid() != expected:
            log.warning("the supervisor is gone; stopping", supervisor=expected)
            stop()
            return
        await asyncio.sleep(CHECK_S)
