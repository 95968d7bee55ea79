"""OpenCode's stored rows as sessiond's mirror records: pure, no I/O.

OpenCode keeps no append-only log of a session: it rewrites one row (or one JSON file)
per session, message and part as they change (docs/agents/opencode.md). The mirror
(`sessiond.mirror.opencode`) reads those rows and appends one *record* per meaningful change to a log of
its own, which the engine then follows like any transcript. A record is the row's
OpenCode object, shrunk to what the rules read, wrapped with what kind of row it was and
when OpenCode last wrote it:

    {"type": "session", "at": ms, "session": {id, parentID, directory, title, version, time}}
    {"type": "message", "at": ms, "message": {id, role, time, finish, error, parentID}}
    {"type": "part",    "at": ms, "part": {id, messageID, type, tool, state, text, done, reason}}

`fingerprint` says whether a record changes anything the rules read: a text part is
rewritten on every streamed word, a running command's part on every line of its output;
none of that is worth a record, so only what the rules use (statuses, whether the tool
has started, a finished text) is in the fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sessiond.protocol import MAX_SUMMARY, MAX_TITLE, JSONDict, clip
from sessiond.sources.base import MAX_EXCERPT

RowKind = Literal["session", "message", "part"]
# Longest id sessiond takes from a row (OpenCode's are ~30 characters).
MAX_ID = 128
# How much of a tool's input a record keeps, as JSON text.
MAX_INPUT = 2000


@dataclass(frozen=True, slots=True)
class Row:
    """One row (or JSON file) as read from OpenCode's storage."""

    kind: RowKind
    id: str
    session_id: str
    updated_ms: int
    data: JSONDict  # OpenCode's object, its ids included


class BadRow(ValueError):
    """A row that does not hold what OpenCode writes; the message says what is wrong."""


def good_id(value: object) -> str:
    """An id as OpenCode makes them (`ses_…`, `msg_…`, `prt_…`): short, no path separators."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        return ""
    if any(c in value for c in "/\\\0") or value in (".", ".."):
        return ""
    return value


def to_record(row: Row) -> JSONDict:
    """The mirror record of one row. Raises BadRow for a row without its ids."""
    if not good_id(row.id) or not good_id(row.session_id):
        raise BadRow(f"a {row.kind} row without a usable id")
    data = row.data
    if row.kind == "session":
        body: JSONDict = {"id": row.id}
        parent = good_id(data.get("parentID"))
        if parent:
            body["parentID"] = parent
        for key, limit in (("directory", 4096), ("title", MAX_TITLE), ("version", 64)):
            value = data.get(key)
            if isinstance(value, str):
                body[key] = clip(value, limit)
        body["time"] = _times(data.get("time"), ("created", "updated", "archived"))
        return {"type": "session", "at": row.updated_ms, "session": body}
    if row.kind == "message":
        body = {"id": row.id, "role": _word(data.get("role"))}
        body["time"] = _times(data.get("time"), ("created", "completed"))
        if isinstance(data.get("finish"), str):
            body["finish"] = _word(data["finish"])
        error = data.get("error")
        if isinstance(error, dict):
            inner = error.get("data")
            message = inner.get("message") if isinstance(inner, dict) else error.get("message")
            body["error"] = {"name": _word(error.get("name")),
                             "message": clip(message, 300) if isinstance(message, str) else ""}
        return {"type": "message", "at": row.updated_ms, "message": body}
    message_id = good_id(data.get("messageID"))
    if not message_id:
        raise BadRow("a part row without its message id")
    kind = _word(data.get("type"))
    body = {"id": row.id, "messageID": message_id, "type": kind}
    if kind == "tool":
        body["tool"] = clip(_word(data.get("tool")) or "tool", MAX_SUMMARY)
        state = data.get("state")
        state = state if isinstance(state, dict) else {}
        status = _word(state.get("status"))
        shrunk: JSONDict = {"status": status}
        tool_input = state.get("input")
        if status != "pending" and isinstance(tool_input, dict):  # pending: still streaming
            shrunk["input"] = _bounded_input(tool_input)
        # The tool's own progress (a command's output so far): whether there is any, not what.
        if isinstance(state.get("metadata"), dict):
            shrunk["started"] = True
        if status == "error" and isinstance(state.get("error"), str):
            shrunk["error"] = clip(state["error"], 300)
        body["state"] = shrunk
    elif kind in ("text", "reasoning"):
        times = _times(data.get("time"), ("start", "end"))
        # The words only once written out: a streaming text (started, not ended) changes
        # on every token. A prompt's text has no times at all: it is whole at once.
        body["done"] = "end" in times or "start" not in times
        text = data.get("text")
        if body["done"] and isinstance(text, str) and kind == "text":
            body["text"] = clip(text, MAX_EXCERPT)
        if data.get("synthetic") is True:
            body["synthetic"] = True
    elif kind == "step-finish":
        body["reason"] = _word(data.get("reason"))
    return {"type": "part", "at": row.updated_ms, "part": body}


_KIND_ORDER = {"session": 0, "message": 1, "part": 2}


def in_write_order(rows: Iterable[Row]) -> list[Row]:
    """Rows read from tables (which keep no order of their own) as the mirror records them:
    sessions first, then messages, then parts, each by the time it was written."""
    return sorted(rows, key=lambda r: (_KIND_ORDER[r.kind], r.updated_ms, r.id))


def fingerprint(record: Mapping[str, Any]) -> str:
    """What a record says that the rules read (its time left out)."""
    return json.dumps({k: v for k, v in record.items() if k != "at"}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))


def record_key(record: Mapping[str, Any]) -> str:
    """`part:prt_…`: which row a mirror record stands for."""
    kind = record.get("type")
    body = record.get(kind) if isinstance(kind, str) else None
    ident = body.get("id") if isinstance(body, dict) else None
    return f"{kind}:{ident}"


def _word(value: object) -> str:
    return clip(value, 80) if isinstance(value, str) else ""


def _times(value: object, keys: tuple[str, ...]) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {k: int(value[k]) for k in keys
            if isinstance(value.get(k), int | float) and not isinstance(value.get(k), bool)}


def _bounded_input(value: JSONDict) -> JSONDict:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= MAX_INPUT:
        return value
    # Too big to keep whole: the fields the summary uses, each clipped.
    kept = [(k, clip(v, MAX_SUMMARY)) for k, v in value.items() if isinstance(v, str)]
    return dict(kept[:20])
