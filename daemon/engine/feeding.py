"""Bringing a tracked file's classifier state up to date with the file's bytes.

The engine decides when a file is read; this decides how: from its tail at start-up
(or when a cold file wakes up), whole for legacy whole-document transcripts, what was
appended since the last read (in bounded slices), or line by line from an old offset
when catching up after a restart. It classifies nothing and publishes nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import structlog
from sessiond.engine.files import TrackedFile
from sessiond.logs import WarnOnce
from sessiond.read.reader import DocumentError, Lines, ReadStats, TranscriptReader, read_document
from sessiond.read.tailer import Tailer, is_permission_error
from sessiond.sources.base import SessionMeta, TranscriptState

log = structlog.get_logger(__name__)

# One turn of the event loop reads at most this many tailer batches of one file (each at
# most 1 MiB and 5,000 lines: a turn stays under ~50 ms whatever the input).
READ_SLICES = 1


class FileFeeder:
    def __init__(self, stats: ReadStats, warn: WarnOnce) -> None:
        self.stats = stats
        self._warn = warn
        self._reader = TranscriptReader(stats, warn)

    def start_cold(self, tracked: TrackedFile, st: os.stat_result) -> None:
        """An old file: left unread, followed from its end if it ever grows."""
        tracked.tailer = Tailer(tracked.path, offset=st.st_size, inode=st.st_ino, line_no=None)
        tracked.size, tracked.mtime = st.st_size, st.st_mtime

    def meta_from_head(self, tracked: TrackedFile) -> SessionMeta:
        return self._reader.meta_from_head(tracked.path, tracked.source, tracked.info)

    def load(self, tracked: TrackedFile, now: datetime) -> None:
        """Classify a file from its head and tail, then follow it from its end.

        Raises NotAFile or OSError when the file cannot be read.
        """
        if tracked.info.whole_document:
            self.reload_document(tracked, now)
        else:
            tracked.state, tracked.tailer = self._reader.from_tail(
                tracked.path, tracked.source, tracked.info, now, inode=tracked.inode
            )
            tracked.inode = None  # found as discovered; from now on the tailer follows it

    def reload_document(self, tracked: TrackedFile, now: datetime) -> None:
        """Legacy whole-document transcripts are re-read whole on every change."""
        try:
            document = read_document(tracked.path)
        except DocumentError as exc:
            # Most likely caught mid-rewrite: keep the last good state, read it again on
            # the next change or sweep.
            self._warn.warn(tracked.path, "incomplete-document", str(exc))
            return
        state = tracked.source.new_state(tracked.info)
        written = tracked.source.record_time(document)
        state.feed(document, 1, min(written, now) if written else now)
        tracked.state = state

    def read_new(self, tracked: TrackedFile, now: datetime) -> bool:
        """Read what was appended, at most `READ_SLICES` batches; True if more is waiting."""
        if tracked.info.whole_document:
            self.reload_document(tracked, now)
            return False
        if tracked.state is None:
            # A cold file woke up: classify from its tail like any file at start-up.
            self.load(tracked, now)
            return False
        state = tracked.state
        for _ in range(READ_SLICES):
            batch = tracked.tailer.read()
            if batch.reset:
                log.info("transcript truncated or replaced; reading it again", path=str(tracked.path))
                state = tracked.source.new_state(tracked.info)
                tracked.state = state
            for line_no in batch.skipped:
                self.stats.skipped_lines += 1
                self._warn.warn(tracked.path, "huge-line", "skipping a line longer than the limit",
                                line=line_no, limit_bytes=tracked.tailer.max_line)
            self._reader.feed(tracked.path, tracked.source, state, batch.lines, now, now)
            if not batch.more:
                return False
        return True

    def since_offset(self, tracked: TrackedFile, offset: int, now: datetime) -> tuple[TranscriptState, Lines]:
        """The state as it was at `offset` (from the tail before it) and every line after.

        The tracked file then follows on from the end. Raises OSError or NotAFile.
        """
        state, tailer = self._reader.from_tail(tracked.path, tracked.source, tracked.info, now, end=offset,
                                               inode=tracked.inode)
        tracked.tailer = Tailer(tracked.path, offset=offset, inode=tailer.inode, line_no=None)
        lines: Lines = []
        while True:
            batch = tracked.tailer.read()
            lines.extend(batch.lines)
            if not batch.more:
                return state, lines

    def note_size(self, tracked: TrackedFile) -> tuple[int, int] | None:
        """Record the file's size and mtime; returns the position to persist, if any."""
        try:
            st = os.stat(tracked.path)
        except OSError:
            return None
        tracked.size, tracked.mtime = st.st_size, st.st_mtime
        inode = tracked.tailer.inode
        if inode is None or tracked.info.whole_document:
            return None
        return inode, tracked.tailer.committed_offset

    def read_failed(self, tracked: TrackedFile, exc: OSError) -> None:
        kind = "unreadable" if is_permission_error(exc) else "read-error"
        self._warn.warn(tracked.path, kind, "cannot read transcript", error=exc.strerror or str(exc))


def file_age(st: os.stat_result) -> float:
    """Seconds since the file was last written."""
    return datetime.now(UTC).timestamp() - st.st_mtime
