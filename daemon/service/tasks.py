"""In-process supervision: long-running tasks that are restarted when they fail.

Each component (the watcher, the sweep, the notifier...) runs as a supervised task. A
task that raises is logged and restarted with exponential backoff; its health is kept
for `/health`. A task that returns normally is done and reported as stopped.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from sessiond.engine.coordinator import Engine
    from sessiond.engine.files import TrackedFile
    from sessiond.sources.base import SessionMeta
from sessiond.protocol import ComponentHealth

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 30.0
# The contract: SIGTERM → exit within 2 s; the tasks get most of it.
STOP_TIMEOUT_S = 1.0


class TaskSupervisor:
    def __init__(self, *, first_backoff: float = 0.5) -> None:
        self.health: dict[str, ComponentHealth] = {}
        self.restarts: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._first_backoff = first_backoff

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        self.health[name] = ComponentHealth("ok", "running")
        self.restarts.setdefault(name, 0)
        task = asyncio.create_task(self._run(name, factory), name=f"sessiond:{name}")
        self._tasks[name] = task
        return task

    async def _run(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        backoff = self._first_backoff
        while True:
            started = time.monotonic()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts[name] += 1
                log.exception("task failed; restarting", task=name, retry_in_s=backoff)
                # Not running while it waits: for the watcher that means the daemon
                # cannot do its job, and /health answers 503 until it is back.
                self.health[name] = ComponentHealth(
                    "failed", f"restarting in {backoff:g} s after {type(exc).__name__}: {exc}"[:200]
                )
                # A task that ran for a while before failing starts its backoff afresh.
                if time.monotonic() - started > 60:
                    backoff = self._first_backoff
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                self.health[name] = ComponentHealth("ok", "running")
                continue
            self.health[name] = ComponentHealth("failed", "stopped")
            return

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Cancel every task; one that does not end within `timeout` is left behind (and
        named in the log) rather than keeping the daemon from exiting."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
        for task in stuck:
            log.error("task did not stop when cancelled; exiting anyway", task=task.get_name())
        self._tasks.clear()


async def measure_loop_lag(record: Callable[[float], None], every: float = 1.0) -> None:
    """How late the event loop wakes up: a stalled loop delays every event."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(every)
        record(max(0.0, (loop.time() - before - every) * 1000))


HEARTBEAT_NAME = "heartbeat"


async def describe_old_sessions(engine: Engine, batch: int = 50) -> None:
    """Once, after start: the project and title of the sessions too old to read at start,
    from the head of each file, a batch at a time in a worker thread (start-up stays fast)."""
    todo = engine.undescribed_cold()
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        heads = await asyncio.to_thread(_read_heads, engine, chunk)
        for tracked, meta in zip(chunk, heads, strict=True):
            if meta is not None:
                engine.describe(tracked, meta)


def _read_heads(engine: Engine, files: list[TrackedFile]) -> list[SessionMeta | None]:
    return [engine.read_head(tracked) for tracked in files]


async def heartbeat_loop(path: Path, every: float = 1.0) -> None:
    """Touch `path` from the event loop every `every` s: the supervisor's proof that the
    loop runs even when /health answers slowly (busy is not hung)."""
    path.touch(mode=0o600, exist_ok=True)
    while True:
        os.utime(path)
        await asyncio.sleep(every)
