"""Linux inotify on the asyncio loop: file events with no polling loop and no thread.

watchfiles waits for events by sleeping `step` ms in a loop, so its latency and its idle
cost move against each other (step=5: ~9 ms, ~1.4 % of a core while nothing happens).
Here the inotify file descriptor is registered with `loop.add_reader`: the kernel wakes
the loop when a transcript is written, the callback reads the events and calls the
engine directly, and nothing runs at all while nothing changes.

Every directory under each existing root is watched (inotify is not recursive); a new
directory gets its own watch and is scanned at once, because a file can be created in it
before the watch exists. Symlinks are never followed. A queue overflow (events lost)
triggers a full sweep. Running out of watches (`fs.inotify.max_user_watches`) raises
`InotifyUnavailable`, and the caller falls back to watchfiles.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import structlog
from sessiond.logs import WarnOnce
from sessiond.watch.target import WatchStatus, WatchTarget

log = structlog.get_logger(__name__)

# Engines followed by inotify right now (the sweep can then run less often).
IN_MODIFY = 0x0000_0002
IN_CLOSE_WRITE = 0x0000_0008
IN_MOVED_FROM = 0x0000_0040
IN_MOVED_TO = 0x0000_0080
IN_CREATE = 0x0000_0100
IN_DELETE = 0x0000_0200
IN_DELETE_SELF = 0x0000_0400
IN_MOVE_SELF = 0x0000_0800
IN_UNMOUNT = 0x0000_2000
IN_Q_OVERFLOW = 0x0000_4000
IN_IGNORED = 0x0000_8000
IN_ONLYDIR = 0x0100_0000
IN_DONT_FOLLOW = 0x0200_0000
IN_ISDIR = 0x4000_0000
IN_NONBLOCK = 0o0004000
IN_CLOEXEC = 0o2000000

DIR_MASK = (
    IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW
)
# Only these files can be transcripts; other files' writes are not worth a look.
TRANSCRIPT_SUFFIXES = (".jsonl", ".json")

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_READ_SIZE = 64 * 1024


class InotifyUnavailable(Exception):
    """inotify cannot serve (not Linux, no instances left, or the watch limit reached)."""

    def __init__(self, message: str, *, watch_limit: bool = False) -> None:
        super().__init__(message)
        self.watch_limit = watch_limit


class Inotify:
    """The three system calls, through ctypes, on one non-blocking descriptor."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise InotifyUnavailable("inotify exists only on Linux")
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._add.restype = ctypes.c_int
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
        self._rm.restype = ctypes.c_int
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise InotifyUnavailable(f"inotify_init1 failed: {os.strerror(code)}")
        self.fd: int = fd

    def add_watch(self, path: str, mask: int) -> int:
        wd: int = self._add(self.fd, os.fsencode(path), mask)
        if wd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
        return wd

    def rm_watch(self, wd: int) -> None:
        self._rm(self.fd, wd)  # EINVAL when the kernel already dropped it: fine

    def read(self) -> list[tuple[int, int, bytes]]:
        """Every queued event as (wd, mask, name); [] when none is waiting."""
        events: list[tuple[int, int, bytes]] = []
        while True:
            try:
                buf = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                return events
            if not buf:
                return events
            offset, end = 0, len(buf)
            while offset < end:
                wd, mask, _cookie, length = _HEADER.unpack_from(buf, offset)
                offset += _HEADER.size
                name = buf[offset : offset + length].split(b"\0", 1)[0]
                offset += length
                events.append((wd, mask, name))

    def close(self) -> None:
        os.close(self.fd)


class TreeWatcher:
    """Watches the engine's roots recursively and turns events into engine calls."""

    def __init__(self, engine: WatchTarget, loop: asyncio.AbstractEventLoop,
                 inotify: Inotify | None = None) -> None:
        self.engine = engine
        self.loop = loop
        self.inotify = inotify or Inotify()
        self._paths: dict[int, str] = {}  # wd -> directory
        self._wds: dict[str, int] = {}  # directory -> wd
        self._warn = WarnOnce(log)
        # Set when a watch could not be added for lack of watches: the loop gives up.
        self.failure: InotifyUnavailable | None = None
        self.overflows = 0
        loop.add_reader(self.inotify.fd, self._on_readable)

    @property
    def watched(self) -> int:
        return len(self._paths)

    def close(self) -> None:
        self.loop.remove_reader(self.inotify.fd)
        self.inotify.close()
        self._paths.clear()
        self._wds.clear()

    # -- watches --------------------------------------------------------------------

    def watch_tree(self, top: Path | str, *, root: bool = False) -> None:
        """Watch `top` and every directory under it, never through a symlink (except
        `top` itself when it is an agent's root: a root may be a symlink)."""
        stack = [os.fspath(top)]
        while stack:
            directory = stack.pop()
            follow = root and directory == os.fspath(top)
            if not self._add(directory, follow=follow):
                continue
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
            except OSError:
                continue  # vanished or unreadable; _add has warned if it matters

    def _add(self, directory: str, *, follow: bool = False) -> bool:
        try:
            wd = self.inotify.add_watch(directory, DIR_MASK & ~IN_DONT_FOLLOW if follow else DIR_MASK)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise InotifyUnavailable(
                    "the inotify watch limit is reached (raise fs.inotify.max_user_watches)",
                    watch_limit=True,
                ) from exc
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                self._warn.warn(directory, "unwatchable-dir", "cannot watch directory",
                                error=exc.strerror)
            return False
        old = self._paths.get(wd)
        if old is not None and old != directory:
            self._wds.pop(old, None)  # the same directory, renamed
        self._paths[wd] = directory
        self._wds[directory] = wd
        return True

    def _forget_tree(self, directory: str) -> None:
        """Stop watching a directory that moved away, and everything below it."""
        prefix = directory + os.sep
        for path in [p for p in self._wds if p == directory or p.startswith(prefix)]:
            wd = self._wds.pop(path)
            self._paths.pop(wd, None)
            self.inotify.rm_watch(wd)

    # -- events -----------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            self.handle(self.inotify.read(), self.loop.time())
        except InotifyUnavailable as exc:
            self.failure = exc
        except Exception:
            log.exception("inotify event handling failed; sweeping")
            self._safely(self.engine.sweep)

    def handle(self, events: list[tuple[int, int, bytes]], signal_at: float) -> None:
        """One batch of events, in order. Writes to one file are read once per batch."""
        engine = self.engine
        changed: dict[Path, bool] = {}  # path -> only IN_CLOSE_WRITE seen in this batch
        for wd, mask, raw_name in events:
            if mask & IN_Q_OVERFLOW:
                self.overflow()
                changed.clear()  # the sweep has read everything
                continue
            directory = self._paths.get(wd)
            if directory is None:
                continue
            if mask & IN_IGNORED:
                self._paths.pop(wd, None)
                if self._wds.get(directory) == wd:
                    del self._wds[directory]
                continue
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT):
                self._lost_directory(directory)
                continue
            name = os.fsdecode(raw_name)
            path = os.path.join(directory, name)
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO):
                    self.watch_tree(path)
                    engine.directory_added(Path(path), signal_at=signal_at)
                elif mask & IN_MOVED_FROM:
                    self._forget_tree(path)
                    self._files_gone(path)
                continue
            if not name.endswith(TRANSCRIPT_SUFFIXES):
                continue
            if mask & (IN_DELETE | IN_MOVED_FROM):
                changed.pop(Path(path), None)
                engine.file_deleted(Path(path))
            else:
                key = Path(path)
                close_only = mask & IN_CLOSE_WRITE and changed.get(key, True)
                changed[key] = bool(close_only)
        for file, close_only in changed.items():
            if close_only and self._unchanged(file):
                continue  # a close after writes already read (MODIFY came earlier)
            engine.file_changed(file, signal_at=signal_at)

    def _unchanged(self, path: Path) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return False
        return self.engine.is_read_up_to_date(path, st)

    def _files_gone(self, directory: str) -> None:
        for path in self.engine.tracked_under(Path(directory)):
            self.engine.file_deleted(path)

    def _lost_directory(self, directory: str) -> None:
        """A watched directory was deleted or moved: a root's loss needs a sweep."""
        self._forget_tree(directory)
        if any(os.fspath(r.path) == directory for r in self.engine.roots):
            log.info("agent root went away", root=directory)
            self._safely(self.engine.sweep)

    def overflow(self) -> None:
        """The kernel queue overflowed, so events were lost: watch anew and sweep."""
        self.overflows += 1
        log.warning("inotify queue overflowed; re-scanning every root")
        for root in self.engine.roots:
            if root.path.is_dir():
                self.watch_tree(root.path, root=True)
        self._safely(self.engine.sweep)

    @staticmethod
    def _safely(action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            log.exception("sweep after a watch change failed")


async def inotify_loop(engine: WatchTarget, status: WatchStatus, *, root_poll_s: float = 1.0) -> None:
    """Follow the engine's roots with inotify until cancelled.

    Raises InotifyUnavailable when inotify cannot serve (the caller falls back).
    Roots that do not exist yet are polled for, once every `root_poll_s`.
    """
    loop = asyncio.get_running_loop()
    watcher = TreeWatcher(engine, loop)
    status.backend = "inotify"
    try:
        for root in engine.roots:
            if root.path.is_dir():
                watcher.watch_tree(root.path, root=True)
        log.info("watching transcripts with inotify", directories=watcher.watched)
        while True:
            await asyncio.sleep(root_poll_s)
            if watcher.failure is not None:
                raise watcher.failure
            _follow_new_roots(engine, watcher)
    finally:
        status.backend = None
        watcher.close()


def _follow_new_roots(engine: WatchTarget, watcher: TreeWatcher) -> None:
    # Watch first, then let the engine read the new root: a file written in between is
    # then both read and reported, never neither.
    for root in engine.roots:
        if not root.exists and root.path.is_dir():
            watcher.watch_tree(root.path, root=True)
    engine.check_roots()
