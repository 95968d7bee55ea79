"""Reading only what is new in an append-only transcript, with bounded memory.

A `Tailer` keeps a byte offset per file and hands out complete lines. It holds back a
torn last line until its newline arrives, skips a line longer than `max_line` without
keeping it in memory, notices a truncated file (size below the offset) and a replaced
one (new inode), and reads in bounded chunks so a file that grows by gigabytes never
sits in memory. `read_tail()` reads complete lines backwards from the end of a file, for
start-up, where whole files must never be parsed.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1024 * 1024
# Lines longer than this are skipped (a pasted image, a runaway tool output). Real
# metadata lines can be tens of KB; 16 MiB leaves ample room.
MAX_LINE = 16 * 1024 * 1024
# One read() call hands out at most this much, and at most this many lines; the caller
# loops while `more` is set, yielding to the event loop between calls, so one busy file
# (a million tiny lines at once) cannot hold the loop for long.
MAX_BATCH = 1024 * 1024
MAX_BATCH_LINES = 5_000


class NotAFile(Exception):
    """The path is a directory, FIFO, device or socket: never read it."""


@dataclass(slots=True)
class Batch:
    # (line number or None when unknown, raw bytes without the newline)
    lines: list[tuple[int | None, bytes]] = field(default_factory=list)
    # The file was truncated or replaced: everything known about it is void, and
    # `lines` start again from the beginning of the new content.
    reset: bool = False
    # Line numbers (or None) of lines skipped for being longer than `max_line`.
    skipped: list[int | None] = field(default_factory=list)
    # More complete data is waiting: call read() again.
    more: bool = False


# A file whose first bytes change was rewritten in place (truncated and written again,
# to the same size or larger): its content is read again from the start.
FINGERPRINT = 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def open_regular(path: Path, *, inode: int | None = None) -> int:
    """Open for reading, never through a symlink and never blocking on a FIFO; refuse
    anything but a regular file (and, given `inode`, any other file than that one).

    The checks are made on the open descriptor, not on the path: a path swapped for a
    symlink or a FIFO between a check and the open cannot slip through.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAFile(f"{path} is a symbolic link") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAFile(f"{path} is not a regular file")
        if inode is not None and st.st_ino != inode:
            raise NotAFile(f"{path} was replaced by another file while it was being opened")
    except BaseException:
        os.close(fd)
        raise
    return fd


class Tailer:
    def __init__(
        self,
        path: Path,
        *,
        offset: int = 0,
        inode: int | None = None,
        line_no: int | None = 0,
        max_line: int = MAX_LINE,
        chunk: int = CHUNK,
        max_batch: int = MAX_BATCH,
        max_lines: int = MAX_BATCH_LINES,
        head: bytes | None = None,
    ) -> None:
        self.path = path
        self.offset = offset  # bytes consumed from the file, including `_pending`
        self.inode = inode
        self.line_no = line_no  # lines completed so far; None when unknown
        self.max_line = max_line
        self.chunk = chunk
        self.max_batch = max_batch
        self.max_lines = max_lines
        self._pending = bytearray()
        self._skipping = False
        # The file's first bytes as last read (see FINGERPRINT); None until the first read
        # (a tailer that starts at an offset is given them: `Tail.head`).
        self._head: bytes | None = head

    @property
    def committed_offset(self) -> int:
        """The offset of the first byte not yet handed out as part of a complete line."""
        if self._skipping:
            return self.offset
        return self.offset - len(self._pending)

    def read(self) -> Batch:
        """Read what was appended since the last call. Raises OSError / NotAFile."""
        batch = Batch()
        fd = open_regular(self.path)
        try:
            st = os.fstat(fd)
            head = os.pread(fd, FINGERPRINT, 0)
            if (self.inode is not None and st.st_ino != self.inode) or st.st_size < self.offset or (
                self._head is not None and head[: len(self._head)] != self._head[: len(head)]
            ):
                self._restart(batch)
            self.inode = st.st_ino
            self._head = head
            os.lseek(fd, self.offset, os.SEEK_SET)
            handed = 0
            while True:
                data = os.read(fd, self.chunk)
                if not data:
                    break
                used = self._consume(data, batch)
                self.offset += used
                handed += used
                if used < len(data) or handed >= self.max_batch:
                    batch.more = True  # the rest is read in a later turn of the loop
                    break
        finally:
            os.close(fd)
        return batch

    def _restart(self, batch: Batch) -> None:
        batch.reset = True
        batch.lines.clear()
        self.offset = 0
        self.line_no = 0
        self._pending.clear()
        self._skipping = False

    def _consume(self, data: bytes, batch: Batch) -> int:
        """Take complete lines from `data` (up to `max_lines` in the batch); returns how
        many bytes were used (the rest is read again later)."""
        start = 0
        while True:
            if len(batch.lines) >= self.max_lines and not self._pending and not self._skipping:
                return start
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            if self._skipping:
                # The end of a line too long to keep: it was reported when it began.
                self._skipping = False
            elif self._pending:
                self._pending += data[start:newline]
                self._emit(bytes(self._pending), batch)
                self._pending.clear()
            else:
                self._emit(data[start:newline], batch)
            if self.line_no is not None:
                self.line_no += 1
            start = newline + 1
        rest = data[start:]
        if not rest or self._skipping:
            return len(data)
        if len(self._pending) + len(rest) > self.max_line:
            # Too long to be a line worth keeping: drop what we have and skip to its end.
            self._pending.clear()
            self._skipping = True
            batch.skipped.append(self.line_no + 1 if self.line_no is not None else None)
            return len(data)
        self._pending += rest
        return len(data)

    def _emit(self, line: bytes, batch: Batch) -> None:
        if len(line) > self.max_line:
            batch.skipped.append(self.line_no + 1 if self.line_no is not None else None)
            return
        number = self.line_no + 1 if self.line_no is not None else None
        batch.lines.append((number, line))


@dataclass(slots=True)
class Tail:
    lines: list[bytes]
    # Offset where `lines` begin, and where the complete lines end (a torn last line
    # after `end` is left for the tailer).
    start: int
    end: int
    inode: int
    whole_file: bool
    # The file's first bytes when it was read: how a later rewrite in place is noticed.
    head: bytes = b""


def read_tail(
    path: Path, want_bytes: int, *, end: int | None = None, max_line: int = MAX_LINE,
    inode: int | None = None,
) -> Tail:
    """The complete lines in (about) the last `want_bytes` of a file (or of its first
    `end` bytes: what the file held when an earlier run stopped reading it).

    The first, partial line of the block is dropped unless the block reaches the start
    of the file. Lines longer than `max_line` are left out.
    """
    fd = open_regular(path, inode=inode)
    try:
        st = os.fstat(fd)
        size = st.st_size if end is None else min(end, st.st_size)
        start = max(0, size - want_bytes)
        data = os.pread(fd, size - start, start)
        head = os.pread(fd, FINGERPRINT, 0)
    finally:
        os.close(fd)
    last_newline = data.rfind(b"\n")
    if last_newline < 0:
        return Tail([], size if start else 0, start, st.st_ino, start == 0, head)
    body = data[: last_newline + 1]
    end = start + last_newline + 1
    if start > 0:
        first = body.find(b"\n")
        body = body[first + 1 :]
        start = start + first + 1
    lines = [line for line in body.split(b"\n")[:-1] if len(line) <= max_line]
    return Tail(lines, start, end, st.st_ino, start == 0, head)


def is_permission_error(exc: OSError) -> bool:
    return exc.errno in (errno.EACCES, errno.EPERM)
