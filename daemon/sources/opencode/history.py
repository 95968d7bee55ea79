"""OpenCode's own history of a session, as rows: pure.

Since its event-sourced storage (the `event` table, from its 2026-03-23 `events` migration
on; opencode 1.18.33 has it), OpenCode
appends every change it makes to a session as an event, `(seq, type, data)`, before
updating the row. Replaying those events gives every row as it was at each moment: what
`sessiond replay`-style tests and the accuracy benchmark need to judge the rules on real
sessions moment by moment (the rows alone hold only the last state).

Event types used (the `.1` is the event's schema version): `session.created.1`,
`session.updated.1` (`info`: the session), `message.updated.1` (`info`: the message),
`message.part.updated.1` (`part`, and `time`: when it was written). A message event
carries no write time of its own: the latest time seen so far stands in (never going
back), or the message's own completion time when later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sessiond.protocol import JSONDict
from sessiond.sources.opencode.records import BadRow, Row, fingerprint, good_id, record_key, to_record


def rows_from_events(
    events: Iterable[tuple[int, str, str]], *, start_ms: int = 0, problems: list[str] | None = None
) -> Iterator[tuple[int, Row]]:
    """`(seq, type, data JSON)` in order → `(seq, row)`: the row each event wrote, with its
    time (ms; `start_ms` until an event tells a later one). An event that is not a JSON
    object, or names no usable ids, is left out (and said in `problems`, when given)."""
    now = start_ms
    for seq, kind, raw in events:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            if problems is not None:
                problems.append(f"an event whose data is not a JSON object ({kind[:40]!r} #{seq})")
            continue
        if kind.startswith("message.part.updated"):
            part = data.get("part")
            written = data.get("time")
            if isinstance(written, int):
                now = max(now, written)
            if isinstance(part, dict) and good_id(part.get("id")) and good_id(part.get("sessionID")):
                yield seq, Row("part", part["id"], part["sessionID"], now, part)
            elif problems is not None:
                problems.append(f"a part event without usable ids ({kind[:40]!r} #{seq})")
            continue
        if not kind.startswith(("session.created", "session.updated", "message.updated")):
            continue  # events that change nothing the rules read (diffs, removals…)
        info = data.get("info")
        if not isinstance(info, dict) or not good_id(info.get("id")):
            if problems is not None:
                problems.append(f"an event without usable ids ({kind[:40]!r} #{seq})")
            continue
        raw_times = info.get("time")
        times: JSONDict = raw_times if isinstance(raw_times, dict) else {}
        if kind.startswith(("session.created", "session.updated")):
            updated = times.get("updated")
            now = max(now, updated) if isinstance(updated, int) else now
            yield seq, Row("session", info["id"], info["id"], now, info)
        elif kind.startswith("message.updated") and good_id(info.get("sessionID")):
            stamps = [t for t in (times.get("created"), times.get("completed")) if isinstance(t, int)]
            now = max([now, *stamps])
            yield seq, Row("message", info["id"], info["sessionID"], now, info)


def records_of(rows: Iterable[tuple[int, Row]]) -> Iterator[tuple[int, JSONDict]]:
    """The records these rows give, in order, repeats dropped: what the mirror would append."""
    last: dict[str, str] = {}
    for seq, row in rows:
        try:
            record = to_record(row)
        except BadRow:
            continue
        key, mark = record_key(record), fingerprint(record)
        if last.get(key) != mark:
            last[key] = mark
            yield seq, record
