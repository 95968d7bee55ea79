"""Turning file-system events into engine calls.

The watcher's events are hints, never the truth: the engine reads each file from its
own offset, and `sweep_loop` stats every known file every `sweep_every` seconds to catch
what a watcher can miss (polling file systems, queue overflows, a root replaced).

`watch_loop` uses watchfiles (inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW
on Windows). Roots that do not exist yet are polled for, once a second, and the watch is
restarted to include them when they appear.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from sessiond.engine import Engine
from watchfiles import Change, awatch

log = structlog.get_logger(__name__)

ROOT_POLL_S = 1.0


def _is_relevant(change: Change, path: str) -> bool:
    # Transcripts, deletions, and new directories: a file created right after its
    # directory can beat the watch on that directory, so a new directory is scanned.
    return change != Change.modified or path.endswith((".jsonl", ".json"))


async def watch_loop(engine: Engine, *, step_ms: int, debounce_ms: int) -> None:
    """Follow every existing root; restart the watch when a root appears or vanishes."""
    loop = asyncio.get_running_loop()
    while True:
        roots = [str(r.path) for r in engine.roots if r.exists]
        if not roots:
            await _wait_for_roots(engine)
            continue
        restart = asyncio.Event()
        poller = asyncio.create_task(_watch_roots(engine, restart))
        try:
            async for changes in awatch(
                *roots,
                watch_filter=_is_relevant,
                step=step_ms,
                debounce=debounce_ms,
                stop_event=restart,
                recursive=True,
                ignore_permission_denied=True,
            ):
                signal_at = loop.time()
                for change, raw in changes:
                    path = Path(raw)
                    if change == Change.deleted:
                        engine.file_deleted(path)
                    elif change == Change.added and path.is_dir():
                        engine.directory_added(path, signal_at=signal_at)
                    else:
                        engine.file_changed(path, signal_at=signal_at)
        except FileNotFoundError as exc:
            # A root vanished under the watcher, or the inotify watch limit was hit
            # (watchfiles reports both this way); the sweep keeps things right meanwhile.
            log.warning("watcher stopped; restarting", error=str(exc))
            engine.check_roots()
            await asyncio.sleep(ROOT_POLL_S)
        finally:
            poller.cancel()


async def _wait_for_roots(engine: Engine) -> None:
    while not engine.check_roots():
        await asyncio.sleep(ROOT_POLL_S)


async def _watch_roots(engine: Engine, restart: asyncio.Event) -> None:
    """Ask the watch to restart when the set of existing roots changes."""
    before = {r.path for r in engine.roots if r.exists}
    while True:
        await asyncio.sleep(ROOT_POLL_S)
        engine.check_roots()
        if {r.path for r in engine.roots if r.exists} != before:
            restart.set()
            return


async def sweep_loop(engine: Engine, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        engine.sweep()
