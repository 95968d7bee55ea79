"""Turning file-system events into engine calls.

The watcher's events are hints, never the truth: the engine reads each file from its
own offset, and `sweep_loop` stats every known file every so often (20 s under watchfiles,
120 s under inotify, or `sweep_every`) to catch what a watcher can miss (polling file
systems, queue overflows, a root replaced).

Two backends, chosen by `choose_backend` (setting `watch_backend`):
- `inotify` (Linux, the default there): the kernel's events on the asyncio loop through
  `loop.add_reader` (see inotify.py). No polling: a few ms from write to SSE, and no CPU
  while nothing changes.
- `watchfiles` (macOS, Windows, and the fallback when inotify runs out of watches):
  FSEvents / ReadDirectoryChangesW / inotify through watchfiles' Rust thread, which
  sleeps `step` ms between checks, so lower latency costs idle CPU.
Roots that do not exist yet are polled for, once a second.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import structlog
from sessiond.watch.inotify import TRANSCRIPT_SUFFIXES, InotifyUnavailable, inotify_loop
from sessiond.watch.target import Backend, WatchStatus, WatchTarget
from watchfiles import Change, awatch

log = structlog.get_logger(__name__)

ROOT_POLL_S = 1.0
# The safety-net sweep's interval by backend when `sweep_every` is not set.
SWEEP_EVERY_S: dict[Backend, float] = {"inotify": 120.0, "watchfiles": 20.0}


def choose_backend(requested: str, platform: str = sys.platform) -> Backend:
    """The backend to use: `auto` means inotify on Linux, watchfiles elsewhere."""
    linux = platform.startswith("linux")
    if requested == "watchfiles":
        return "watchfiles"
    if requested == "inotify" and not linux:
        log.warning("watch_backend = inotify needs Linux; using watchfiles", platform=platform)
        return "watchfiles"
    return "inotify" if linux else "watchfiles"


def _is_relevant(change: Change, path: str) -> bool:
    # Transcripts, deletions, and new directories: a file created right after its
    # directory can beat the watch on that directory, so a new directory is scanned.
    return change != Change.modified or path.endswith(TRANSCRIPT_SUFFIXES)


async def watch_loop(
    engine: WatchTarget, status: WatchStatus, *, step_ms: int, debounce_ms: int, backend: str = "auto"
) -> None:
    """Follow every root with the chosen backend, falling back to watchfiles if need be."""
    force_polling = False
    if choose_backend(backend) == "inotify":
        try:
            await inotify_loop(engine, status, root_poll_s=ROOT_POLL_S)
        except InotifyUnavailable as exc:
            # Out of watches, watchfiles' inotify would fail the same way: it polls.
            force_polling = exc.watch_limit
            log.warning("inotify unavailable; falling back to watchfiles", reason=str(exc),
                        polling=force_polling)
            engine.sweep()
    status.backend = "watchfiles"
    await watchfiles_loop(engine, step_ms=step_ms, debounce_ms=debounce_ms,
                          force_polling=force_polling)


async def watchfiles_loop(
    engine: WatchTarget, *, step_ms: int, debounce_ms: int, force_polling: bool = False
) -> None:
    """Follow every existing root; restart the watch when a root appears or vanishes."""
    loop = asyncio.get_running_loop()
    log.info("watching transcripts with watchfiles", step_ms=step_ms, polling=force_polling)
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
                force_polling=force_polling or None,
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
            if "watch limit" in str(exc) and not force_polling:
                force_polling = True
            engine.check_roots()
            await asyncio.sleep(ROOT_POLL_S)
        finally:
            poller.cancel()


async def _wait_for_roots(engine: WatchTarget) -> None:
    while not engine.check_roots():
        await asyncio.sleep(ROOT_POLL_S)


async def _watch_roots(engine: WatchTarget, restart: asyncio.Event) -> None:
    """Ask the watch to restart when the set of existing roots changes."""
    before = {r.path for r in engine.roots if r.exists}
    while True:
        await asyncio.sleep(ROOT_POLL_S)
        engine.check_roots()
        if {r.path for r in engine.roots if r.exists} != before:
            restart.set()
            return


async def sweep_loop(engine: WatchTarget, status: WatchStatus, every: float | None) -> None:
    """Stat every known file each `every` s (None: by backend, see SWEEP_EVERY_S)."""
    while True:
        await asyncio.sleep(every if every is not None else sweep_interval(status))
        engine.sweep()


def sweep_interval(status: WatchStatus) -> float:
    """inotify reports its own losses (IN_Q_OVERFLOW triggers a sweep at once), so the
    safety net can be wide; watchfiles can lose events silently (polling, its queue)."""
    return SWEEP_EVERY_S["inotify" if status.backend == "inotify" else "watchfiles"]
