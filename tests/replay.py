"""Replay a transcript against a virtual clock, as the live daemon would have seen it.

Agent-agnostic: give it any `AgentSource`, the `FileInfo` of the file and its path (or
numbered records). Each record is fed to a fresh `TranscriptState` at its own time, and
`classify()` is asked:
- right after the record,
- at every `recheck_at` the verdict names before the next record (approval guesses,
  settle times, idle...),
- and just before the next record arrives.
So a status that only holds *between* two lines (a permission prompt on screen, a
question waiting for an answer) shows up as a probe.

The clock never goes backwards: live, the daemon stamps records with their arrival
time, and transcripts' own timestamps are not monotonic (agent-formats.md §1.2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sessiond.inspection import iter_records
from sessiond.protocol import JSONDict, PendingTool, Status
from sessiond.sources.base import AgentSource, FileInfo, Thresholds, classify

JUST_BEFORE = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Probe:
    at: datetime
    line_no: int  # the last line fed when the status was asked
    status: Status
    reason: str
    pending_tool: PendingTool | None


def replay(
    source: AgentSource,
    info: FileInfo,
    path: Path,
    limits: Thresholds | None = None,
    *,
    until: datetime | None = None,
) -> list[Probe]:
    """Every probe of one transcript file, in time order (see the module docstring)."""
    return replay_records(source, info, _numbered(info, path), limits, until=until)


def replay_records(
    source: AgentSource,
    info: FileInfo,
    records: Iterable[tuple[int, JSONDict]],
    limits: Thresholds | None = None,
    *,
    until: datetime | None = None,
    max_rechecks: int = 20,
) -> list[Probe]:
    """Like `replay`, for records already parsed: `(line_no, record)` pairs in file order.

    `until` extends the clock past the last record (following its rechecks).
    """
    limits = limits or Thresholds()
    items = list(records)
    times = _clock(source, [record for _, record in items])
    state = source.new_state(info)
    probes: list[Probe] = []

    def probe(now: datetime, line_no: int) -> datetime | None:
        result = classify(state, now, limits)
        probes.append(Probe(now, line_no, result.status, result.reason, result.pending_tool))
        return result.recheck_at

    for index, (line_no, record) in enumerate(items):
        now = times[index]
        state.feed(record, line_no, now)
        nxt = times[index + 1] if index + 1 < len(items) else until
        recheck = probe(now, line_no)
        for _ in range(max_rechecks):
            if recheck is None or recheck <= now or (nxt is not None and recheck >= nxt):
                break
            now = recheck
            recheck = probe(now, line_no)
        if nxt is not None and nxt - JUST_BEFORE > now:
            probe(nxt - JUST_BEFORE, line_no)
    return probes


def transitions(probes: Iterable[Probe]) -> list[Probe]:
    """The probes where the status changed (the first probe counts as a change)."""
    changes: list[Probe] = []
    for p in probes:
        if not changes or changes[-1].status != p.status:
            changes.append(p)
    return changes


def statuses_after(probes: Iterable[Probe], line_no: int) -> list[Status]:
    """The statuses seen while `line_no` was the last line fed, in time order."""
    return [p.status for p in probes if p.line_no == line_no]


def status_before(probes: Iterable[Probe], line_no: int) -> Probe:
    """The last probe taken before line `line_no` was fed."""
    earlier = [p for p in probes if p.line_no < line_no]
    if not earlier:
        raise LookupError(f"no probe before line {line_no}")
    return earlier[-1]


def _clock(source: AgentSource, records: list[JSONDict]) -> list[datetime]:
    """Each record's time: its own timestamp, never earlier than the one before."""
    known = [source.record_time(r) for r in records]
    first = next((t for t in known if t is not None), None)
    if first is None:
        raise ValueError("no record carries a timestamp")
    times: list[datetime] = []
    current = first
    for t in known:
        if t is not None and t > current:
            current = t
        times.append(current)
    return times


def _numbered(info: FileInfo, path: Path) -> Iterator[tuple[int, JSONDict]]:
    if info.whole_document:
        yield 1, json.loads(path.read_bytes().decode("utf-8", errors="replace"))
        return
    for item in iter_records(path):
        yield item.line_no, item.record
