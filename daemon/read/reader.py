"""From transcript bytes to the records an agent's state is fed.

The engine decides *when* to read; this module decides *how*: decoding lines into
records (skipping garbage and other agents' formats, one warning per file), dating each
record, classifying a file at start-up from its tail read backwards in growing blocks
plus its head (never the whole file), and reading whole-document transcripts. The same
`read_document` serves `sessiond inspect`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sessiond.logs import WarnOnce
from sessiond.protocol import JSONDict
from sessiond.read.jsonl import decode_line, too_many_containers
from sessiond.read.tailer import Tail, Tailer, open_regular, read_tail
from sessiond.sources.base import AgentSource, FileInfo, SessionMeta, TranscriptState

# Start-up reads a file's head for its title and metadata: this much, and up to
# HEAD_BYTES only when that held no title yet (a first prompt can be long)...
HEAD_FIRST = 16 * 1024
HEAD_BYTES = 64 * 1024
# ...and its tail in growing blocks, from this size up to the last, until the
# classifier has what it needs.
TAIL_BLOCKS = (8 * 1024, 32 * 1024, 128 * 1024, 512 * 1024, 4 * 1024 * 1024)
# A legacy whole-document transcript larger than this is not read (it is parsed whole, on
# the event loop: 16 MB of real JSON takes about 100 ms).
MAX_DOCUMENT = 16 * 1024 * 1024

# A record, its line number (None when unknown) and when it was written.
Record = tuple[JSONDict, int | None, datetime]
Lines = list[tuple[int | None, bytes]]


class DocumentError(Exception):
    """A whole-document transcript cannot be used (yet); the message says why."""


def read_document(path: Path) -> JSONDict:
    """A whole-document transcript (legacy Gemini `session-*.json`), parsed.

    Raises DocumentError when it is too large, not complete JSON (most likely caught
    mid-rewrite) or not an object; OSError / NotAFile when it cannot be read.
    """
    # open_regular: a path replaced by a FIFO must not block the daemon.
    with os.fdopen(open_regular(path), "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_DOCUMENT:
            raise DocumentError(f"{path} is too large to be a whole-document transcript.")
        raw = fh.read(MAX_DOCUMENT)
    if too_many_containers(raw):
        raise DocumentError(f"{path} holds too many nested values to be a transcript.")
    try:
        document = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:  # ValueError: also a 4300-digit integer
        raise DocumentError(f"{path} is not complete JSON (it may be mid-rewrite).") from exc
    if not isinstance(document, dict):
        raise DocumentError(f"{path} is JSON but not a transcript document.")
    return document


def head_lines(path: Path, limit: int) -> list[bytes]:
    """The complete lines in the first `limit` bytes."""
    if limit <= 0:
        return []
    with os.fdopen(open_regular(path), "rb") as fh:  # never blocks on a FIFO
        data = fh.read(limit)
    return data.split(b"\n")[:-1]


@dataclass(slots=True)
class ReadStats:
    lines: int = 0
    garbage_lines: int = 0
    skipped_lines: int = 0


class TranscriptReader:
    def __init__(self, stats: ReadStats, warn: WarnOnce) -> None:
        self.stats = stats
        self._warn = warn

    def decode(
        self, path: Path, source: AgentSource, lines: Lines, fallback: datetime, now: datetime
    ) -> list[Record]:
        """Every record of `lines`, with its line number and the time it was written."""
        last_at = fallback
        out: list[Record] = []
        for line_no, raw in lines:
            decoded = decode_line(raw)
            self.stats.lines += 1
            if decoded.had_garbage:
                self.stats.garbage_lines += 1
                self._warn.warn(path, "garbage", "skipping bytes that are not JSON", line=line_no)
            for record in decoded.records:
                if not source.recognises(record):
                    # Another agent's format in this agent's folder (or a future record
                    # kind): it must not steer this agent's rules.
                    self._warn.warn(path, "unrecognised",
                                    f"skipping records that are not {source.agent} transcript lines",
                                    line=line_no)
                    continue
                written = source.record_time(record)
                # The record's own time when it has one (a line read late still counts
                # from when it was written), never later than now.
                at = min(written, now) if written is not None else max(last_at, fallback)
                last_at = at
                out.append((record, line_no, at))
        return out

    def feed(
        self,
        path: Path,
        source: AgentSource,
        state: TranscriptState,
        lines: Lines,
        fallback: datetime,
        now: datetime,
    ) -> None:
        for record, line_no, at in self.decode(path, source, lines, fallback, now):
            state.feed(record, line_no, at)

    def meta_from_head(self, path: Path, source: AgentSource, info: FileInfo) -> SessionMeta:
        """What the head of a file says of its session (project, branch, title), without
        reading the rest: for old files left unread at start-up."""
        fallback = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        state = source.new_state(info)
        self.feed(path, source, state, [(None, line) for line in head_lines(path, HEAD_FIRST)], fallback,
                  fallback)
        return state.meta

    def from_tail(
        self, path: Path, source: AgentSource, info: FileInfo, now: datetime, *, end: int | None = None,
        inode: int | None = None,
    ) -> tuple[TranscriptState, Tailer]:
        """A state classified from the file's head and tail (of its first `end` bytes),
        and a tailer that follows the file from where that read stopped. Given `inode`,
        only that file is read (NotAFile otherwise)."""
        fallback = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        # Read backwards in growing blocks until the rules have what they need.
        records: list[Record] = []
        smaller: Tail | None = None
        for block in TAIL_BLOCKS:
            tail = read_tail(path, block, end=end, inode=inode)
            if tail.whole_file:
                break
            # Each line is decoded once: a bigger block adds only the lines before the
            # smaller one's, and the probe and the state below share the records.
            lines = tail.lines
            if smaller is not None and smaller.end == tail.end:
                lines = lines[: len(lines) - len(smaller.lines)]
            else:
                records = []
            records = self.decode(path, source, [(None, line) for line in lines], fallback, now) + records
            smaller = tail
            if _has_basis(source, info, records):
                break
        state = source.new_state(info)
        if not tail.whole_file:
            # The head carries the title (the first prompt) and the session's metadata.
            limit = min(HEAD_BYTES, tail.start)
            first = head_lines(path, limit=min(HEAD_FIRST, limit))
            self.feed(path, source, state, [(None, line) for line in first], fallback, now)
            if not state.meta.title and limit > HEAD_FIRST:
                more = head_lines(path, limit=limit)[len(first) :]
                self.feed(path, source, state, [(None, line) for line in more], fallback, now)
            for record, line_no, at in records:
                state.feed(record, line_no, at)
        else:
            numbered: Lines = [(i + 1, line) for i, line in enumerate(tail.lines)]
            self.feed(path, source, state, numbered, fallback, now)
        tailer = Tailer(
            path,
            offset=tail.end,
            inode=tail.inode,
            line_no=len(tail.lines) if tail.whole_file else None,
            head=tail.head,
        )
        return state, tailer


def _has_basis(source: AgentSource, info: FileInfo, records: list[Record]) -> bool:
    """Do these records alone give the rules a basis? (`has_basis` never turns back to
    False, so the probe stops at the first record that gives one.)"""
    probe = source.new_state(info)
    for record, line_no, at in records:
        probe.feed(record, line_no, at)
        if probe.has_basis():
            return True
    return False
