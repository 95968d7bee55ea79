"""Offline classification of one transcript file: what `sessiond inspect` runs.

It uses exactly the daemon's rules: the agent's `TranscriptState`, fed every record of
the file in order with the record's own timestamp, then `classify()` as of `now`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sessiond.protocol import InspectResult, JSONDict
from sessiond.read.jsonl import decode_line
from sessiond.read.reader import DocumentError, read_document
from sessiond.sources import all_sources
from sessiond.sources.base import AgentSource, FileInfo, Thresholds, TranscriptState, classify

# Enough lines to recognise the format: a metadata line may come first.
_SNIFF_RECORDS = 20


class InspectError(Exception):
    """The file cannot be classified; the message is one sentence for the user."""


@dataclass(frozen=True, slots=True)
class NumberedRecord:
    line_no: int
    record: JSONDict


def iter_records(path: Path) -> Iterator[NumberedRecord]:
    """Every JSON object in a JSONL file with its 1-based line number.

    A torn last line (no trailing newline) is still read: offline, the file is final.
    """
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            for record in decode_line(raw).records:
                yield NumberedRecord(line_no, record)


def detect_source(path: Path, sources: list[AgentSource]) -> tuple[AgentSource, FileInfo] | None:
    """Which agent wrote this file: by its place under an agent root, else by content."""
    for source in sources:
        for root in source.roots(_env(), Path.home()):
            try:
                path.resolve().relative_to(root.resolve())
            except ValueError:
                continue
            info = source.identify(path.resolve(), root.resolve())
            if info is not None:
                return source, info
    sample = _sample(path)
    for source in sources:
        if any(source.recognises(r) for r in sample):
            whole = path.suffix == ".json"
            return source, FileInfo(source.agent, path.stem, whole_document=whole)
    if path.suffix != ".json":
        # A whole-document transcript (legacy Gemini) saved under another name: one
        # pretty-printed JSON object spread over many lines.
        try:
            document = _read_document(path)
        except InspectError:
            return None
        for source in sources:
            if source.recognises(document):
                return source, FileInfo(source.agent, path.stem, whole_document=True)
    return None


def feed_file(source: AgentSource, info: FileInfo, path: Path) -> TranscriptState:
    state = source.new_state(info)
    fallback = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    if info.whole_document:
        document = _read_document(path)
        state.feed(document, 1, source.record_time(document) or fallback)
        return state
    last_at: datetime | None = None
    for item in iter_records(path):
        at = source.record_time(item.record) or last_at or fallback
        last_at = at
        state.feed(item.record, item.line_no, at)
    return state


def inspect_file(
    path: Path, now: datetime | None = None, limits: Thresholds | None = None
) -> InspectResult:
    if not path.is_file():
        raise InspectError(f"{path} is not a readable file.")
    if _is_sqlite(path):
        return inspect_opencode_database(path, now, limits)
    try:
        detected = detect_source(path, all_sources())
    except OSError as exc:
        raise InspectError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    if detected is None:
        raise InspectError(f"{path} is not a transcript of any agent sessiond knows.")
    source, info = detected
    try:
        state = feed_file(source, info, path)
    except OSError as exc:
        raise InspectError(f"{path} cannot be read: {exc.strerror or exc}.") from exc
    result = classify(state, now or datetime.now(UTC), limits or Thresholds())
    return InspectResult(
        agent=source.agent,
        session_id=state.meta.session_id or info.session_id,
        status=result.status,
        reason=result.reason,
        since=result.since,
        pending_tool=result.pending_tool,
    )


def inspect_opencode_database(
    path: Path, now: datetime | None = None, limits: Thresholds | None = None
) -> InspectResult:
    """An OpenCode database (`opencode.db`): its most recently active session, from its
    tables, as the mirror would record them."""
    from sessiond.mirror.opencode_storage import StorageError, read_database
    from sessiond.sources.opencode.history import records_of
    from sessiond.sources.opencode.records import in_write_order
    from sessiond.sources.opencode.transcript import OpenCodeSource

    try:
        rows = read_database(path, 0).rows
    except StorageError as exc:
        raise InspectError(f"{path} is not an OpenCode database sessiond can read ({exc}).") from exc
    if not rows:
        raise InspectError(f"{path} holds no OpenCode session.")
    newest = max(rows, key=lambda r: r.updated_ms).session_id
    source = OpenCodeSource()
    state = source.new_state(FileInfo("opencode", newest))
    ordered = in_write_order(r for r in rows if r.session_id == newest)
    for n, (_, record) in enumerate(records_of((0, row) for row in ordered), start=1):
        at = source.record_time(record)
        if at is not None:
            state.feed(record, n, at)
    result = classify(state, now or datetime.now(UTC), limits or Thresholds())
    return InspectResult(agent="opencode", session_id=newest, status=result.status, reason=result.reason,
                         since=result.since, pending_tool=result.pending_tool)


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _sample(path: Path) -> list[JSONDict]:
    if path.suffix == ".json":
        try:
            return [_read_document(path)]
        except InspectError:
            return []
    sample: list[JSONDict] = []
    for item in iter_records(path):
        sample.append(item.record)
        if len(sample) >= _SNIFF_RECORDS:
            break
    return sample


def _read_document(path: Path) -> JSONDict:
    try:
        return read_document(path)
    except DocumentError as exc:
        raise InspectError(str(exc)) from exc


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
