"""OpenCode's storage, written the way OpenCode writes it, for tests.

`Database` keeps the session, message and part tables of opencode 1.18.33's schema (the
columns sessiond reads, as `sqlite_master` showed them) in WAL mode, and updates rows in
place as OpenCode does; `Tree` writes the JSON file layout of OpenCode before 1.2. The
objects stored are OpenCode's own `Session.Info`, `MessageV2.Info` and `MessageV2.Part`
(packages/opencode/src/session/message-v2.ts), shaped as opencode 1.18.33 wrote them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sessiond.sources.opencode.transcript import OpenCodeSource, OpenCodeState

SCHEMA = """
CREATE TABLE IF NOT EXISTS session (
  id text PRIMARY KEY, project_id text NOT NULL, workspace_id text, parent_id text, slug text NOT NULL,
  directory text NOT NULL, title text NOT NULL, version text NOT NULL,
  time_created integer NOT NULL, time_updated integer NOT NULL,
  time_compacting integer, time_archived integer);
CREATE TABLE IF NOT EXISTS message (
  id text PRIMARY KEY, session_id text NOT NULL, time_created integer NOT NULL, time_updated integer NOT NULL,
  data text NOT NULL);
CREATE TABLE IF NOT EXISTS part (
  id text PRIMARY KEY, message_id text NOT NULL, session_id text NOT NULL, time_created integer NOT NULL,
  time_updated integer NOT NULL, data text NOT NULL);
"""

# Recent OpenCode's log of every change (its 2026-03-23 `events` migration).
EVENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
  id text PRIMARY KEY, aggregate_id text NOT NULL, seq integer NOT NULL, type text NOT NULL,
  data text NOT NULL);
"""

_counter = [0]


def new_id(prefix: str) -> str:
    """Ids like OpenCode's: a prefix, then a hex time and a counter, so they sort by creation."""
    _counter[0] += 1
    return f"{prefix}_{int(time.time() * 1000):012x}{_counter[0]:06d}Zz"


def now_ms() -> int:
    return int(time.time() * 1000)


class Database:
    """`events=True`: recent OpenCode, which also appends every change to its `event`
    table (as 1.18.33 does); False: an older database, with the three tables alone."""

    def __init__(self, data_dir: Path, *, busy_timeout_ms: int = 0, events: bool = True) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "opencode.db"
        # OpenCode's own connection: WAL, and (busy_timeout 0 by default here) it fails at
        # once rather than wait if a reader ever held a lock it needs.
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA + (EVENT_SCHEMA if events else ""))
        self.events = events
        self._seq: dict[str, int] = {}
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, as OpenCode's: its event and the row it projects commit
        together (packages/opencode/src/sync/index.ts). Nested uses join the outer one."""
        self._depth += 1
        if self._depth == 1:
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._depth == 1:
                self.conn.execute("ROLLBACK")
            raise
        else:
            if self._depth == 1:
                self.conn.execute("COMMIT")
        finally:
            self._depth -= 1

    def _event(self, sid: str, kind: str, data: dict[str, Any]) -> None:
        if not self.events:
            return
        seq = self._seq.get(sid, -1) + 1
        self._seq[sid] = seq
        self.conn.execute("INSERT INTO event VALUES (?, ?, ?, ?, ?)",
                          (new_id("evt"), sid, seq, f"{kind}.1", json.dumps({"sessionID": sid, **data})))

    def close(self) -> None:
        self.conn.close()

    def session(
        self,
        sid: str | None = None,
        *,
        directory: str = "/home/dev/acme-api",
        title: str = "",
        parent: str | None = None,
        archived: bool = False,
    ) -> str:
        sid = sid or new_id("ses")
        t = now_ms()
        title = title or f"New session - {time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime())}"
        with self.transaction():
            self.conn.execute(
                "INSERT INTO session (id, project_id, parent_id, slug, directory, title, version,"
                " time_created, time_updated, time_archived)"
                " VALUES (?, 'global', ?, 'calm-cactus', ?, ?, '1.18.33', ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET title=excluded.title, time_updated=excluded.time_updated,"
                " time_archived=excluded.time_archived",
                (sid, parent, directory, title, t, t, t if archived else None),
            )
            info: dict[str, Any] = {"id": sid, "slug": "calm-cactus", "projectID": "global",
                                    "directory": directory, "title": title, "version": "1.18.33",
                                    "time": {"created": t, "updated": t}}
            if archived:
                info["time"]["archived"] = t
            if parent:
                info["parentID"] = parent
            self._event(sid, "session.updated", {"info": info})
        return sid

    def message(self, sid: str, data: dict[str, Any], mid: str | None = None) -> str:
        mid = mid or new_id("msg")
        t = now_ms()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO message VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " time_updated=excluded.time_updated, data=excluded.data",
                (mid, sid, t, t, json.dumps(data)),
            )
            self._event(sid, "message.updated", {"info": {**data, "id": mid, "sessionID": sid}})
        return mid

    def part(self, sid: str, mid: str, data: dict[str, Any], pid: str | None = None) -> str:
        pid = pid or new_id("prt")
        t = now_ms()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " time_updated=excluded.time_updated, data=excluded.data",
                (pid, mid, sid, t, t, json.dumps(data)),
            )
            part = {**data, "id": pid, "sessionID": sid, "messageID": mid}
            self._event(sid, "message.part.updated", {"part": part, "time": t})
        return pid

    def raw(self, sql: str, *args: Any) -> None:
        self.conn.execute(sql, args)


# -- OpenCode's objects, as 1.18.33 writes them ------------------------------------------


def user(created: int | None = None) -> dict[str, Any]:
    return {
        "role": "user",
        "time": {"created": created or now_ms()},
        "agent": "build",
        "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"},
    }


def assistant(
    *,
    completed: bool = False,
    finish: str | None = None,
    error: dict[str, Any] | None = None,
    parent: str = "",
) -> dict[str, Any]:
    t = now_ms()
    data: dict[str, Any] = {
        "parentID": parent,
        "role": "assistant",
        "mode": "build",
        "agent": "build",
        "path": {"cwd": "/home/dev/acme-api", "root": "/home/dev/acme-api"},
        "cost": 0,
        "tokens": {"input": 0, "output": 0, "reasoning": 0, "cache": {"write": 0, "read": 0}},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "time": {"created": t},
    }
    if completed:
        data["time"]["completed"] = t
    if finish:
        data["finish"] = finish
    if error:
        data["error"] = error
    return data


def text(words: str, *, done: bool = True) -> dict[str, Any]:
    t = now_ms()
    return {"type": "text", "text": words, "time": {"start": t, "end": t} if done else {"start": t}}


def prompt(words: str) -> dict[str, Any]:
    return {"type": "text", "text": words}  # a user's text part has no times


def tool(
    name: str,
    status: str,
    tool_input: dict[str, Any] | None = None,
    *,
    started: bool = False,
    error: str | None = None,
    output: str | None = None,
) -> dict[str, Any]:
    state: dict[str, Any] = {"status": status, "input": tool_input or {}}
    if status == "pending":
        state["raw"] = ""
    else:
        state["time"] = {"start": now_ms()}
    if started or status == "completed":
        state["metadata"] = {"output": output or "", "description": ""}
    if status == "completed":
        state["output"] = output or ""
        state["title"] = name
        state["time"]["end"] = now_ms()
    if error is not None:
        state["error"] = error
    return {"type": "tool", "tool": name, "callID": "call_1", "state": state}


class Tree:
    """The JSON file layout of OpenCode before 1.2, under `storage/`."""

    def __init__(self, data_dir: Path) -> None:
        self.storage = data_dir / "storage"

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))  # rewritten in place, as Bun.write does

    def session(
        self,
        sid: str | None = None,
        *,
        directory: str = "/home/dev/acme-api",
        title: str = "",
        parent: str | None = None,
    ) -> str:
        sid = sid or new_id("ses")
        t = now_ms()
        data: dict[str, Any] = {
            "id": sid,
            "version": "0.15.8",
            "projectID": "4b0ea68d",
            "directory": directory,
            "title": title or "New session",
            "time": {"created": t, "updated": t},
        }
        if parent:
            data["parentID"] = parent
        self._write(self.storage / "session" / "4b0ea68d" / f"{sid}.json", data)
        return sid

    def message(self, sid: str, data: dict[str, Any], mid: str | None = None) -> str:
        mid = mid or new_id("msg")
        self._write(self.storage / "message" / sid / f"{mid}.json", {**data, "id": mid, "sessionID": sid})
        return mid

    def part(self, sid: str, mid: str, data: dict[str, Any], pid: str | None = None) -> str:
        pid = pid or new_id("prt")
        self._write(
            self.storage / "part" / mid / f"{pid}.json",
            {**data, "id": pid, "sessionID": sid, "messageID": mid},
        )
        return pid


def state_of_log(path: Path, root: Path) -> tuple[OpenCodeState, datetime]:
    """A mirror log (under `root`) fed through the OpenCode rules, each record at its own
    time; with the time of the last one."""
    source = OpenCodeSource()
    info = source.identify(path, root)
    assert info is not None
    state = source.new_state(info)
    last = None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        record = json.loads(line)
        last = source.record_time(record)
        assert last is not None
        state.feed(record, n, last)
    assert last is not None
    return state, last
