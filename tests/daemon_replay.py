"""Replay a real transcript into the REAL daemon's watched directories, on a compressed clock.

`replay_into_daemon()` lays a corpus file out where its agent writes it, under the
daemon's temporary roots:

    Claude  <projects>/<encoded cwd>/<sessionId>.jsonl
    Codex   <sessions>/YYYY/MM/DD/rollout-<local ts>-<thread uuid>.jsonl
    Gemini  <.gemini/tmp>/<project>/chats/session-<YYYY-MM-DDTHH-MM>-<id8>.jsonl
    Cursor  <projects>/<enc>/agent-transcripts/<id>/<id>.jsonl

and appends it line by line at the pace of the file's own timestamps, compressed, while
an SSE client (`/events?session=<id>`) records every transition the daemon publishes.

The clock (`ReplayClock`). The daemon dates each record by its own timestamp (clipped to
now, `engine._decode_lines`), so every timestamp field is REWRITTEN onto the replay's
clock: a gap of `g` seconds in the original becomes `min(g * scale, cap)` real seconds,
and the daemon runs with every threshold scaled by the same factor (`settings()`). So the
rules compare the same relative times, and anything the original waited for longer than
`cap / scale` (a permission prompt left for 14 minutes) still lasts `cap` seconds, longer
than every scaled threshold that can decide a status (`approval_after × 4`, `settle_after`,
Codex's `approval_after + yield_time_ms`; `yield_time_ms` in Codex call arguments is
scaled too). Two things are not scaled: `idle_after` / `stale_after` scaled are above `cap`,
so a replay never goes idle; and Claude's `MARKED_SETTLE` (60 s, a module constant) never
elapses within a capped gap. Both hold for the daemon and the offline rules alike.

Deadlines. A line written within `margin` of a deadline of the rules (a recheck the
classifier asks for: an approval guess, a settle time) would make the outcome depend on
the machine's scheduling. The schedule is therefore computed first, offline, with the
same rules: a write that falls within `margin` of a deadline is moved off it, to the side
the compressed clock put it on (`DaemonReplay.adjusted` counts them).

What the daemon should have said (`DaemonReplay.expected`) is computed afterwards from
what was really written and when: the records as rewritten, each fed at the time the
daemon would date it, the status probed at each write, at every deadline before the
next write, and just before it. The daemon may publish fewer changes (lines that arrive
in one read are classified together) but never one the rules do not give: its sequence
of statuses must be a subsequence of the expected one.

A large file can be replayed from a line on (`paced_from`): line 1 is written alone (so
the daemon reads the file from its start and knows line numbers), then everything up to
`paced_from` at once, as a daemon started mid-session would find it, then the rest paced.
With `first_alone=False` line 1 comes with that burst: the daemon meets a large file and
reads it from its tail, as at start-up (reasons then say "a recent line"). The file always
appears with its first write already in it (written aside, then renamed into place).
`run_replays()` runs several replays concurrently against one daemon, in a thread of
its own (the tests' event loops are left alone).

Durations inside reasons are replay seconds ("Write pending 0 s").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import threading
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sessiond.protocol import JSONDict, Status, parse_ts
from sessiond.read.jsonl import decode_line
from sessiond.sources import all_sources
from sessiond.sources.base import AgentSource, FileInfo, Thresholds, TranscriptState, classify
from sessiond.sources.claude.transcript import SLOW_TOOL_FACTOR

from tests.daemon_proc import DaemonProcess
from tests.sse import SSEClient

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # the schedule's origin, before it is placed in real time
_JUST_BEFORE = timedelta(milliseconds=1)
_MAX_RECHECKS = 50


@dataclass(frozen=True, slots=True)
class ReplayClock:
    """How original time maps onto the replay's real time."""

    scale: float = 1 / 8
    # The longest real gap between two writes (s): it must exceed every scaled deadline.
    cap: float = 3.0
    # No write within this many real seconds of a deadline of the rules.
    margin: float = 0.2
    # Original seconds between two lines of a format without timestamps (Cursor).
    untimed_step: float = 8.0
    # The lines before `paced_from` are dated within this many real seconds.
    prefix_span: float = 20.0
    # Real seconds between the burst of early lines and the first paced line, at least.
    lead: float = 0.5

    def __post_init__(self) -> None:
        t = self.thresholds()
        longest = max(t.approval_after * SLOW_TOOL_FACTOR, t.settle_after).total_seconds()
        if self.cap < longest + 2 * self.margin:
            raise ValueError(f"cap {self.cap} s must exceed the longest scaled deadline {longest} s")

    def thresholds(self, base: Thresholds | None = None) -> Thresholds:
        base = base or Thresholds()
        return replace(
            base,
            approval_after=base.approval_after * self.scale,
            idle_after=base.idle_after * self.scale,
            stale_after=base.stale_after * self.scale,
            settle_after=base.settle_after * self.scale,
        )

    def settings(self) -> str:
        """The daemon's config file: its thresholds scaled like the clock."""
        t = self.thresholds()
        return (
            "[daemon]\n"
            f"approval_after_s = {t.approval_after.total_seconds()}\n"
            f"settle_after_s = {t.settle_after.total_seconds()}\n"
            f"idle_after_s = {t.idle_after.total_seconds()}\n"
            f"stale_after_s = {t.stale_after.total_seconds()}\n"
        )

    @property
    def tail(self) -> float:
        """Real seconds after the last write by when every deadline has passed."""
        return self.cap

    def compress(self, gap: float) -> float:
        return min(max(gap, 0.0) * self.scale, self.cap)


class Published(NamedTuple):
    """One transition the daemon published."""

    status: Status
    source: str
    reason: str
    pending_tool: str | None  # its name


class Expected(NamedTuple):
    """The offline rules' status at one moment of the replay."""

    at: datetime
    line_no: int  # the last line written
    status: Status
    reason: str


@dataclass(slots=True)
class DaemonReplay:
    agent: str
    corpus: Path
    path: Path  # the file as laid out in the daemon's root
    session_id: str
    transitions: list[Published]
    final: dict[str, Any]  # the session's /api/sessions entry after the replay
    expected: list[Expected]
    last_time: datetime  # the newest time a record of the file carries (or was written)
    tail: float
    adjusted: int  # writes moved off a deadline
    writes: list[tuple[datetime, int, int]] = field(default_factory=list)  # (when, first, last line)

    @property
    def statuses(self) -> list[Status]:
        return [t.status for t in self.transitions]

    @property
    def expected_statuses(self) -> list[Status]:
        out: list[Status] = []
        for e in self.expected:
            if not out or out[-1] != e.status:
                out.append(e.status)
        return out

    def summary(self) -> str:
        """One line per published transition, for failure messages and the report."""
        rows = [f"{t.status:<22} {t.source:<10} {t.reason}" for t in self.transitions]
        return f"{self.corpus.name} ({self.session_id}):\n  " + "\n  ".join(rows)


# -- the corpus file, and where it goes ------------------------------------------------------


@dataclass(slots=True)
class _Line:
    no: int
    records: list[JSONDict]
    raw: bytes  # as in the corpus, without its newline
    orig: datetime | None  # the time the line says it was written (the latest of its records)


@dataclass(slots=True)
class _Unit:
    """Lines written with one write(): the first line, the early burst, or a paced group."""

    lines: list[_Line]
    run: datetime  # original time (running maximum) at its last line
    offset: float = 0.0  # seconds on the schedule (relative to _EPOCH)
    kind: str = "paced"


def _read_lines(source: AgentSource, path: Path, last_line: int | None) -> list[_Line]:
    lines: list[_Line] = []
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if last_line is not None and no > last_line:
                break
            raw = raw.rstrip(b"\r\n")
            records = decode_line(raw).records
            times = [t for t in (source.record_time(r) for r in records) if t is not None]
            lines.append(_Line(no, records, raw, max(times) if times else None))
    return lines


def _source(agent: str) -> AgentSource:
    for source in all_sources():
        if source.agent == agent:
            return source
    raise ValueError(f"no source for agent {agent!r}")


def _first(lines: Sequence[_Line], pick: Callable[[JSONDict], object]) -> str | None:
    for line in lines:
        for record in line.records:
            value = pick(record)
            if isinstance(value, str) and value:
                return value
    return None


def _payload(record: JSONDict) -> dict[str, Any]:
    payload = record.get("payload")
    return payload if isinstance(payload, dict) else {}


def _own_id(agent: str, corpus: Path, lines: Sequence[_Line]) -> str:
    """The session id the file carries (Cursor's lives only in its path: made up)."""
    if agent == "codex":
        found = _first(lines, lambda r: _payload(r).get("id") if r.get("type") == "session_meta" else None)
    elif agent in ("claude", "gemini"):
        found = _first(lines, lambda r: r.get("sessionId"))
    else:
        found = None
    return found or str(uuid.uuid5(uuid.NAMESPACE_URL, corpus.name))


def _layout(
    agent: str, daemon: DaemonProcess, sid: str, lines: Sequence[_Line], folder: str | None
) -> tuple[Path, Path]:
    """(the transcript's path, the agent root it lives under)."""
    now = datetime.now().astimezone()  # Codex and Gemini name files in local time
    if agent == "claude":
        cwd = _first(lines, lambda r: r.get("cwd")) or "/replay"
        enc = re.sub(r"[^A-Za-z0-9]", "-", cwd)
        return daemon.claude_projects / enc / f"{sid}.jsonl", daemon.claude_projects
    if agent == "codex":
        day = daemon.codex_sessions / f"{now:%Y}" / f"{now:%m}" / f"{now:%d}"
        return day / f"rollout-{now:%Y-%m-%dT%H-%M-%S}-{sid}.jsonl", daemon.codex_sessions
    if agent == "gemini":
        chats = daemon.gemini_tmp / (folder or "replay") / "chats"
        return chats / f"session-{now:%Y-%m-%dT%H-%M}-{sid[:8]}.jsonl", daemon.gemini_tmp
    if agent == "cursor":
        transcripts = daemon.cursor_projects / (folder or "replay") / "agent-transcripts"
        return transcripts / sid / f"{sid}.jsonl", daemon.cursor_projects
    raise ValueError(f"unknown agent {agent!r}")


# -- the clock ----------------------------------------------------------------------------


class _TimeMap:
    """Original time -> replay time, through the anchors (original, replayed) of the
    writes so far: linear in between, `scale` beyond either end. Monotonic."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.orig: list[datetime] = []
        self.new: list[datetime] = []

    def add(self, orig: datetime, new: datetime) -> None:
        if self.orig and orig < self.orig[-1]:
            raise ValueError("anchors must come in time order")
        self.orig.append(orig)
        self.new.append(new)

    def __call__(self, x: datetime, shift: timedelta = timedelta(0)) -> datetime:
        if not self.orig:
            raise ValueError("no anchor yet")
        i = bisect_right(self.orig, x)
        if i == 0:
            out = self.new[0] - (self.orig[0] - x) * self.scale
        elif i == len(self.orig):
            out = self.new[-1] + (x - self.orig[-1]) * self.scale
        else:
            a, b = self.orig[i - 1], self.orig[i]
            span = (b - a).total_seconds()
            frac = (x - a).total_seconds() / span if span > 0 else 1.0
            out = self.new[i - 1] + (self.new[i] - self.new[i - 1]) * frac
        return out + shift


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class _Rewrite:
    agent: str
    scale: float
    rename: tuple[str, str] | None = None  # (the file's session id, the replay's)


def _rewrite(how: _Rewrite, record: JSONDict, move: Callable[[datetime], datetime]) -> JSONDict:
    """A copy of `record` with every timestamp the agent's rules read moved onto the replay
    clock (and the session id replaced, if asked)."""
    out: JSONDict = json.loads(json.dumps(record))
    agent, scale = how.agent, how.scale
    if how.rename is not None:
        old, new = how.rename
        for holder in (out, out.get("payload")):
            if isinstance(holder, dict):
                for key in ("sessionId", "id", "session_id"):
                    if holder.get(key) == old:
                        holder[key] = new

    def fix(obj: Any, *keys: str) -> None:
        if not isinstance(obj, dict):
            return
        for key in keys:
            when = parse_ts(obj.get(key))
            if when is not None:
                obj[key] = _ts(move(when))

    if agent == "claude":
        fix(out, "timestamp")
    elif agent == "codex":
        fix(out, "timestamp")
        payload = out.get("payload")
        fix(payload, "timestamp")
        if isinstance(payload, dict) and isinstance(payload.get("arguments"), str):
            # An approved exec_command answers within yield_time_ms: a duration, so scaled too.
            try:
                args = json.loads(payload["arguments"])
            except ValueError:
                args = None
            if isinstance(args, dict) and isinstance(args.get("yield_time_ms"), int | float):
                args["yield_time_ms"] = max(1, round(args["yield_time_ms"] * scale))
                payload["arguments"] = json.dumps(args, ensure_ascii=False)
    elif agent == "gemini":

        def message(m: Any) -> None:
            fix(m, "timestamp")
            calls = m.get("toolCalls") if isinstance(m, dict) else None
            for call in calls if isinstance(calls, list) else ():
                fix(call, "timestamp")

        patch = out.get("$set")
        holder = patch if isinstance(patch, dict) else out
        fix(holder, "startTime", "lastUpdated")
        messages = holder.get("messages")
        for m in messages if isinstance(messages, list) else ():
            message(m)
        if isinstance(out.get("id"), str):
            message(out)
    # cursor: no timestamps at all
    return out


def _encode(line: _Line, how: _Rewrite, move: Callable[[datetime], datetime]) -> tuple[bytes, list[JSONDict]]:
    if not line.records:
        return line.raw + b"\n", []
    records = [_rewrite(how, r, move) for r in line.records]
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
    return text.encode() + b"\n", records


# -- the schedule ----------------------------------------------------------------------------


def _units(lines: list[_Line], paced_from: int, clock: ReplayClock, first_alone: bool) -> list[_Unit]:
    """Line 1 alone (or in the burst), the early burst, then one unit per distinct
    original time."""
    known = [line.orig for line in lines if line.orig is not None]
    if not known:  # no timestamps at all (Cursor): a steady pace
        base = datetime(2000, 1, 1, tzinfo=UTC)
        for line in lines:
            line.orig = base + timedelta(seconds=(line.no - 1) * clock.untimed_step)
        known = [line.orig for line in lines if line.orig is not None]
    run = known[0]
    units: list[_Unit] = []
    for line in lines:
        if line.orig is not None and line.orig > run:
            run = line.orig
        if line.no == 1 and (first_alone or paced_from <= 2):
            units.append(_Unit([line], run, kind="first"))
        elif line.no < paced_from:
            if not units or units[-1].kind != "burst":
                units.append(_Unit([], run, kind="burst"))
            units[-1].lines.append(line)
            units[-1].run = run
        elif units[-1].kind == "paced" and units[-1].run == run:
            units[-1].lines.append(line)  # same instant (or no timestamp): one write
        else:
            units.append(_Unit([line], run))
    return units


def _schedule(
    units: list[_Unit], how: _Rewrite, source: AgentSource, info: FileInfo, clock: ReplayClock,
    limits: Thresholds,
) -> int:
    """Give each unit its offset; returns how many writes were moved off a deadline."""
    early = [u for u in units if u.kind != "paced"]
    offset = 0.0
    for prev, unit in itertools.pairwise(early):
        offset += clock.compress((unit.run - prev.run).total_seconds())
        unit.offset = offset
    squeeze = min(1.0, clock.prefix_span / offset) if offset > 0 else 1.0
    for unit in early:  # the last early write at 0, the others before it
        unit.offset = (unit.offset - offset) * squeeze
    timemap = _TimeMap(clock.scale)
    state = source.new_state(info)

    def feed(unit: _Unit) -> None:
        timemap.add(unit.run, _EPOCH + timedelta(seconds=unit.offset))
        at = _EPOCH + timedelta(seconds=unit.offset)
        for line in unit.lines:
            for record in _encode(line, how, timemap)[1]:
                own = source.record_time(record)
                state.feed(record, line.no, min(own, at) if own is not None else at)

    for unit in early:
        feed(unit)
    adjusted = 0
    prev = early[-1]
    for unit in units[len(early):]:
        wanted = prev.offset + clock.compress((unit.run - prev.run).total_seconds())
        if prev is early[-1]:
            wanted = max(wanted, prev.offset + clock.lead)
        unit.offset = _off_deadlines(state, prev.offset, wanted, clock, limits)
        adjusted += unit.offset != wanted
        feed(unit)
        prev = unit
    return adjusted


def _off_deadlines(
    state: TranscriptState, start: float, wanted: float, clock: ReplayClock, limits: Thresholds
) -> float:
    """`wanted`, or the nearest time at least `margin` away from every deadline the
    rules set between `start` and it, on the same side of each."""
    t = start
    for _ in range(_MAX_RECHECKS):
        recheck = classify(state, _EPOCH + timedelta(seconds=t), limits).recheck_at
        if recheck is None:
            break
        r = (recheck - _EPOCH).total_seconds()
        if r <= t or r >= wanted + clock.margin:
            break
        if abs(wanted - r) < clock.margin:
            # Earlier if there is room (clear of the deadline passed before), else later.
            floor = start if t == start else t + clock.margin
            before = wanted < r and r - clock.margin >= floor
            wanted = r - clock.margin if before else r + clock.margin
        if r >= wanted:
            break
        t = r
    return wanted


# -- what the rules say about what was written -------------------------------------------------


def expected_probes(
    source: AgentSource, info: FileInfo, writes: list[tuple[datetime, list[tuple[int, JSONDict]]]],
    limits: Thresholds, until: datetime,
) -> list[Expected]:
    """The offline rules over the records as written: each record dated as the daemon
    dates it (its own time, at most its write time), probed at each write, at every
    deadline before the next, and just before it."""
    state = source.new_state(info)
    out: list[Expected] = []
    for index, (written, records) in enumerate(writes):
        line_no = records[-1][0] if records else (out[-1].line_no if out else 0)
        for no, record in records:
            own = source.record_time(record)
            state.feed(record, no, min(own, written) if own is not None else written)
        nxt = writes[index + 1][0] if index + 1 < len(writes) else until
        now = written
        for _ in range(_MAX_RECHECKS):
            c = classify(state, now, limits)
            out.append(Expected(now, line_no, c.status, c.reason))
            if c.recheck_at is None or c.recheck_at <= now or c.recheck_at >= nxt:
                break
            now = c.recheck_at
        if nxt - _JUST_BEFORE > now:
            c = classify(state, nxt - _JUST_BEFORE, limits)
            out.append(Expected(nxt - _JUST_BEFORE, line_no, c.status, c.reason))
    return out


# -- the replay -----------------------------------------------------------------------------------


async def _get(daemon: DaemonProcess, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(daemon.get, path)


async def _sleep_until(when: datetime) -> None:
    delay = (when - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


async def _wait_for_session(daemon: DaemonProcess, sid: str, newest: datetime | None,
                            timeout: float = 20.0) -> None:
    """Until the daemon shows the session, having read up to a record dated `newest`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    floor = newest.replace(microsecond=newest.microsecond // 1000 * 1000) if newest else None
    while loop.time() < deadline:
        status, body = await _get(daemon, f"/api/sessions/{sid}")
        if status == 200:
            seen = parse_ts(body.get("last_activity"))
            if floor is None or (seen is not None and seen >= floor):
                return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the daemon did not show session {sid} (read up to {newest}):\n{daemon.output()}")


async def replay_into_daemon(
    daemon: DaemonProcess,
    corpus: Path,
    agent: str,
    clock: ReplayClock,
    *,
    paced_from: int = 2,
    last_line: int | None = None,
    folder: str | None = None,
    first_alone: bool = True,
    session_id: str | None = None,
) -> DaemonReplay:
    """Replay `corpus` (lines 1..`last_line`) into `daemon` as `agent` wrote it; see the
    module docstring. The daemon must run with `clock.settings()`.

    `first_alone=False` writes line 1 with the other early lines: the daemon then finds
    a file already large, reads it from its tail as at start-up, and no longer knows
    line numbers (reasons say "a recent line"). `session_id` replaces the file's own (so
    one file can be replayed twice side by side)."""
    source = _source(agent)
    lines = _read_lines(source, corpus, last_line)
    own = _own_id(agent, corpus, lines)
    how = _Rewrite(agent, clock.scale, (own, session_id) if session_id and session_id != own else None)
    path, root = _layout(agent, daemon, session_id or own, lines, folder)
    info = source.identify(path, root)
    if info is None:
        raise ValueError(f"{path} is not where {agent} transcripts live")
    limits = clock.thresholds()
    units = _units(lines, max(2, paced_from), clock, first_alone)
    adjusted = _schedule(units, how, source, info, clock, limits)

    written: list[tuple[datetime, list[tuple[int, JSONDict]]]] = []
    writes: list[tuple[datetime, int, int]] = []
    timemap = _TimeMap(clock.scale)
    newest: datetime | None = None  # the newest time a written record carries
    last_dated: datetime | None = None  # the own time of the last record written
    path.parent.mkdir(parents=True, exist_ok=True)
    async with SSEClient(f"{daemon.base_url}/events?session={info.session_id}", token=daemon.token) as client:
        await client.next_of("snapshot")
        fd: int | None = None
        try:
            shift = timedelta(0)
            for index, unit in enumerate(units):
                planned = _EPOCH + timedelta(seconds=unit.offset)
                if index == 0:
                    # Line 1 now, dated so that the early lines after it are dated now at most.
                    early = [u for u in units if u.kind != "paced"]
                    shift = datetime.now(UTC) - _EPOCH - timedelta(seconds=early[-1].offset)
                else:
                    previous = units[index - 1]
                    if previous.kind != "paced":
                        # The daemon reads line 1 alone (it then numbers lines from the
                        # start), and the early burst before the paced lines begin.
                        await _wait_for_session(daemon, info.session_id, last_dated)
                    if unit.kind == "paced" and previous.kind != "paced":
                        gap = unit.offset - previous.offset
                        at_least = max(written[-1][0] + timedelta(seconds=gap),
                                       datetime.now(UTC) + timedelta(seconds=clock.lead))
                        shift = max(shift, at_least - planned)
                when = planned + shift
                timemap.add(unit.run, when)
                data = b""
                records: list[tuple[int, JSONDict]] = []
                for line in unit.lines:
                    raw, rewritten = _encode(line, how, timemap)
                    data += raw
                    records += [(line.no, r) for r in rewritten]
                    for r in rewritten:
                        last_dated = source.record_time(r)
                        if last_dated is not None and (newest is None or last_dated > newest):
                            newest = last_dated
                await _sleep_until(when)
                if fd is None:
                    # The file appears with its first write in it (a rename), so the
                    # daemon never sees it empty; then it is appended to.
                    part = path.with_name(path.name + ".part")
                    part.write_bytes(data)
                    part.rename(path)
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                elif data:
                    os.write(fd, data)
                stamp = datetime.now(UTC)
                written.append((stamp, records))
                writes.append((stamp, unit.lines[0].no, unit.lines[-1].no))
        finally:
            if fd is not None:
                os.close(fd)
        end = written[-1][0] + timedelta(seconds=clock.tail)
        await _sleep_until(end)
        status, final = await _get(daemon, f"/api/sessions/{info.session_id}")
        if status != 200:
            raise AssertionError(f"no session {info.session_id} after the replay:\n{daemon.output()}")
        await asyncio.sleep(0.3)  # frames still on the wire
        transitions = [
            Published(
                e.data["to"], e.data["source"], e.data["reason"],
                (e.data["session"].get("pending_tool") or {}).get("name"),
            )
            for e in client.drain()
            if e.event == "transition"
        ]
    expected = expected_probes(source, info, written, limits, end)
    last_time = newest if newest is not None else written[-1][0]
    return DaemonReplay(
        agent=agent, corpus=corpus, path=path, session_id=info.session_id, transitions=transitions,
        final=final, expected=expected, last_time=last_time, tail=clock.tail, adjusted=adjusted,
        writes=writes,
    )


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    agent: str
    corpus: Path
    paced_from: int = 2
    last_line: int | None = None
    folder: str | None = None
    first_alone: bool = True
    session_id: str | None = None


def run_replays(
    daemon: DaemonProcess, specs: dict[str, ReplaySpec], clock: ReplayClock
) -> dict[str, DaemonReplay | BaseException]:
    """Every replay at once against one daemon, on an event loop in a thread of its own."""

    async def main() -> dict[str, DaemonReplay | BaseException]:
        jobs = [
            replay_into_daemon(daemon, s.corpus, s.agent, clock, paced_from=s.paced_from,
                               last_line=s.last_line, folder=s.folder, first_alone=s.first_alone,
                               session_id=s.session_id)
            for s in specs.values()
        ]
        done = await asyncio.gather(*jobs, return_exceptions=True)
        return dict(zip(specs, done, strict=True))

    results: dict[str, DaemonReplay | BaseException] = {}

    def target() -> None:
        try:
            results.update(asyncio.run(main()))
        except BaseException as exc:  # surfaced to every test
            results.update(dict.fromkeys(specs, exc))

    thread = threading.Thread(target=target, name="daemon-replay")
    thread.start()
    thread.join()
    return results


def is_subsequence(needles: Sequence[Any], haystack: Sequence[Any],
                   match: Callable[[Any, Any], bool] = lambda a, b: a == b) -> bool:
    """Do `needles` appear in `haystack` in order (not necessarily adjacent)?"""
    it = iter(haystack)
    return all(any(match(n, h) for h in it) for n in needles)
