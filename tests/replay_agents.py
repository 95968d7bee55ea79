"""Pure replays of Codex / Gemini / Cursor transcripts with a virtual clock.

Records are fed one at a time, in file order, each at its own time; after each record
the state is classified at that time and again just before the next record arrives.
Nothing sleeps and nothing reads the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sessiond.inspection import iter_records
from sessiond.protocol import JSONDict, Status
from sessiond.sources.base import (
    AgentSource,
    Classification,
    FileInfo,
    Thresholds,
    TranscriptState,
    classify,
)

JUST_BEFORE = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Timed:
    line_no: int | None
    record: JSONDict
    at: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """The status after line `line_no`, as of `now` (`before_next` when it is the moment
    just before the next record arrives)."""

    line_no: int | None
    now: datetime
    status: Status
    reason: str
    before_next: bool


def timed_records(
    source: AgentSource, path: Path, start: datetime, step: timedelta = timedelta(seconds=1)
) -> list[Timed]:
    """Every record of a JSONL file with its own time; records without one (Cursor) get
    `start`, `start + step`, ... so the replay still has a clock."""
    out: list[Timed] = []
    last = start - step
    for item in iter_records(path):
        own = source.record_time(item.record)
        at = own if own is not None else last + step
        last = at
        out.append(Timed(item.line_no, item.record, at))
    return out


def replay(
    source: AgentSource,
    info: FileInfo,
    records: Iterable[Timed],
    limits: Thresholds | None = None,
    tail: timedelta = timedelta(seconds=10),
) -> list[Step]:
    """Feed `records` one by one; classify at each record time and just before the next
    (and `tail` after the last one)."""
    limits = limits or Thresholds()
    state = source.new_state(info)
    items = list(records)
    steps: list[Step] = []
    for index, item in enumerate(items):
        state.feed(item.record, item.line_no, item.at)
        steps.append(_step(state, item, item.at, limits, before_next=False))
        nxt = items[index + 1].at if index + 1 < len(items) else item.at + tail + JUST_BEFORE
        probe = nxt - JUST_BEFORE
        if probe > item.at:
            steps.append(_step(state, item, probe, limits, before_next=True))
    return steps


def _step(
    state: TranscriptState, item: Timed, now: datetime, limits: Thresholds, before_next: bool
) -> Step:
    c: Classification = classify(state, now, limits)
    return Step(item.line_no, now, c.status, c.reason, before_next)


def statuses(steps: Iterable[Step]) -> list[Status]:
    """The sequence of distinct statuses (consecutive repeats collapsed)."""
    out: list[Status] = []
    for s in steps:
        if not out or out[-1] != s.status:
            out.append(s.status)
    return out


def transitions(steps: Iterable[Step]) -> Iterator[tuple[int | None, Status, Status]]:
    """(line after which it happened, from, to) for each status change."""
    prev: Status | None = None
    for s in steps:
        if prev is not None and s.status != prev:
            yield s.line_no, prev, s.status
        prev = s.status


def at_line(steps: Iterable[Step], line_no: int, before_next: bool = False) -> Step:
    for s in steps:
        if s.line_no == line_no and s.before_next == before_next:
            return s
    raise KeyError(f"no step for line {line_no} (before_next={before_next})")


def corpus_records(path: Path) -> list[JSONDict]:
    """Every record of a corpus file: a legacy Gemini document (stored by Entire under a
    `.jsonl` name) is one record, anything else is read as JSON Lines."""
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        return [document]
    return [item.record for item in iter_records(path)]


def foreign_records(corpus: Path, agent: str) -> Iterator[tuple[str, JSONDict]]:
    """(file name, record) for every record of every other agent's corpus file."""
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir() and p.name != agent):
        for path in sorted(folder.iterdir()):
            for record in corpus_records(path):
                yield f"{folder.name}/{path.name}", record
