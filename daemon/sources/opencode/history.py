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


def rows_from_events(events: Iterable[tuple[int, str, str]]) -> Iterator[tuple[int, Row]]:
    """`(seq, type, data JSON)` in seq order → `(seq, row)`: the row each event wrote, with
    its time (ms)."""
    now = 0
    for seq, kind, raw in events:
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if kind.startswith("message.part.updated"):
            part = data.get("part")
            written = data.get("time")
            if isinstance(written, int):
                now = max(now, written)
            if isinstance(part, dict) and good_id(part.get("id")) and good_id(part.get("sessionID")):
                yield seq, Row("part", part["id"], part["sessionID"], now, part)
            continue
        info = data.get("info")
        if not isinstance(info, dict) or not good_id(info.get("id")):
            continue
        times = info.get("time") if isinstance(info.get("time"), dict) else {}
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
