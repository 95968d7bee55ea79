"""Real OpenCode sessions (tests/data/opencode/, written by opencode-ai 1.18.33 itself; see
scripts/capture_opencode.py), replayed moment by moment from OpenCode's own event history,
and loaded into the real daemon.

The labels below were read off each file's events (what OpenCode did next), not taken
from sessiond's rules: e.g. in `approved`, the bash part is `running` with no metadata from
seq 12 for 8.1 s until the user allowed it (seq 14 starts it): OpenCode was asking.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sessiond.inspection import inspect_file
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.opencode.history import records_of, rows_from_events
from sessiond.sources.opencode.transcript import OpenCodeSource

from bench import accuracy_opencode
from tests.daemon_proc import make_daemon, running
from tests.daemon_replay import ReplayClock, is_subsequence
from tests.opencode_db import EVENT_SCHEMA, Database, state_of_log
from tests.sse import SSEClient, SSEEvent
from tests.waiting import wait_for

DATA = Path(__file__).parent / "data" / "opencode"
LIMITS = Thresholds()
SOURCE = OpenCodeSource()

# file: [(after event seq, seconds later, status)], then the end state.
LABELS: dict[str, tuple[list[tuple[int, float, str]], str]] = {
    "approved": ([
        (3, 0.5, "working"),                   # the prompt was sent
        (12, 1.0, "working"),                  # bash about to run: too soon to tell
        (12, 5.0, "waiting_for_approval"),     # still not started: OpenCode asks
        (12, 8.0, "waiting_for_approval"),     # just before the user allowed it
        (14, 0.05, "working"),                 # started
        (19, 0.01, "working"),                 # step done, the result goes back
        (28, 1.0, "waiting_for_input"),        # "Done.", finish stop
    ], "waiting_for_input"),
    "rejected": ([
        (12, 5.0, "waiting_for_approval"),
        (14, 0.005, "working"),                # refused: the step is finishing
        (17, 1.0, "waiting_for_input"),        # OpenCode stopped the turn
    ], "waiting_for_input"),
    "long-command": ([
        (12, 0.05, "working"),
        (14, 8.0, "working"),                  # a 9 s command, allowed: never a false alarm
        (19, 0.001, "working"),
        (28, 1.0, "waiting_for_input"),
    ], "waiting_for_input"),
    "interrupted": ([
        (14, 3.5, "working"),
        (16, 1.0, "waiting_for_input"),        # MessageAbortedError
    ], "waiting_for_input"),
}


def events(name: str) -> list[tuple[int, str, str]]:
    return accuracy_opencode.events(DATA / f"{name}.sql")


def moments(name: str) -> list[tuple[int, float, str, str]]:
    """Each labelled moment's (seq, offset, expected, what the rules said)."""
    labels, _ = LABELS[name]
    state = SOURCE.new_state(FileInfo("opencode", name))
    found: list[tuple[int, float, str, str]] = []
    records = list(records_of(rows_from_events(events(name))))
    for n, (seq, record) in enumerate(records, 1):
        at = SOURCE.record_time(record)
        assert at is not None
        state.feed(record, n, at)
        next_seq = records[n][0] if n < len(records) else None
        for label_seq, offset, expected in labels:
            # A label after event `seq` applies once every record up to it is fed.
            if label_seq >= seq and (next_seq is None or label_seq < next_seq):
                said = classify(state, at + timedelta(seconds=offset), LIMITS).status
                found.append((label_seq, offset, expected, said))
    return found


@pytest.mark.parametrize("name", sorted(LABELS))
def test_each_labelled_moment_of_a_real_session(name: str) -> None:
    found = moments(name)
    assert len(found) == len(LABELS[name][0]), "every label was reached"
    wrong = [(seq, off, exp, said) for seq, off, exp, said in found if exp != said]
    assert wrong == []


def test_the_data_is_opencode_s_own() -> None:
    for name in LABELS:
        first = (DATA / f"{name}.sql").read_text(encoding="utf-8").splitlines()[0]
        assert "real OpenCode 1.18.33" in first
        assert any('"version":"1.18.33"' in data for _, _, data in events(name))


def test_the_daemon_shows_each_real_session_s_end_state(tmp_path: Path) -> None:
    """The dumps' rows in an OpenCode database (times moved to now, as if just written)."""
    data = tmp_path / "d" / "opencode"
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "opencode.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    expected = {}
    for name, (_, end) in LABELS.items():
        dump = sqlite3.connect(":memory:")
        dump.executescript((DATA / f"{name}.sql").read_text(encoding="utf-8"))
        shift = int(time.time() * 1000) - max(r[0] for r in dump.execute("SELECT time_updated FROM part"))
        for table in ("session", "message", "part"):
            columns = [c[1] for c in dump.execute(f"PRAGMA table_info({table})")]
            if table == "session":
                sid = dump.execute("SELECT id FROM session").fetchone()[0]
                expected[sid] = end
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
            for row in dump.execute(f"SELECT * FROM {table}"):
                values: list[Any] = list(row)
                for i, column in enumerate(columns):
                    if column in ("time_created", "time_updated") and isinstance(values[i], int):
                        values[i] += shift
                db.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values))})", values)
    db.close()
    with running(make_daemon(tmp_path / "d")) as daemon:
        shown = wait_for(lambda: (s := daemon.sessions()) and all(k in s for k in expected) and s)
        assert {sid: shown[sid]["status"] for sid in expected} == expected
        assert all(shown[sid]["title"] == "Run the scripted command" for sid in expected)


def test_the_accuracy_benchmark_s_labels_and_verdicts_on_the_real_sessions() -> None:
    # Its labeller reads what OpenCode did next; in `approved` that is one approval wait
    # (the 8.1 s before the user allowed bash), in `long-command` none (it started at once).
    approved = accuracy_opencode.label(list(rows_from_events(events("approved"))))
    assert [m.label for m in approved].count("waiting_for_approval") == 1
    long = accuracy_opencode.label(list(rows_from_events(events("long-command"))))
    assert "waiting_for_approval" not in [m.label for m in long]
    result = accuracy_opencode.run()
    assert result["moments"] >= 20 and result["false_alarms"] == 0 and result["wrong"] == []


# -- the real sessions, replayed live through the real daemon ----------------------------

CLOCK = ReplayClock(scale=1 / 8, cap=3.0)
# The statuses each session must show, in this order, among those the daemon publishes.
KEY_STATUSES = {
    "approved": ["working", "waiting_for_approval", "working", "waiting_for_input"],
    "rejected": ["working", "waiting_for_approval", "waiting_for_input"],
    "long-command": ["working", "waiting_for_input"],
    "interrupted": ["working", "waiting_for_input"],
}


def write_event(db: Database, seq: int, kind: str, raw: str) -> None:
    """What OpenCode does for one event: append it to its log, then update the row."""
    data = json.loads(raw)
    sid = data["sessionID"]
    with db.transaction():  # as OpenCode: the event and its row commit together
        db.raw("INSERT INTO event VALUES (?, ?, ?, ?, ?)", f"evt_{sid[-8:]}{seq:06d}", sid, seq, kind, raw)
        project(db, sid, kind, data)


def project(db: Database, sid: str, kind: str, data: dict[str, Any]) -> None:
    """The row an event writes (OpenCode's projector for it)."""
    if kind.startswith("session."):
        info = data["info"]
        db.session(sid, directory=info["directory"], title=info["title"], archived="archived" in info["time"])
    elif kind.startswith("message.updated"):
        info = dict(data["info"])
        db.message(sid, {k: v for k, v in info.items() if k not in ("id", "sessionID")}, mid=info["id"])
    elif kind.startswith("message.part.updated"):
        part = dict(data["part"])
        body = {k: v for k, v in part.items() if k not in ("id", "sessionID", "messageID")}
        db.part(sid, part["messageID"], body, pid=part["id"])


async def test_the_real_sessions_replayed_live_through_the_daemon(tmp_path: Path) -> None:
    data = tmp_path / "d" / "opencode"
    db = Database(data, events=False)  # the rows are written here; the log comes from the files
    db.conn.executescript(EVENT_SCHEMA)
    daemon = make_daemon(tmp_path / "d", settings=CLOCK.settings())
    daemon.start()
    try:
        async with SSEClient(f"{daemon.base_url}/events", token=daemon.token) as client:
            await client.next_of("snapshot")
            for name in KEY_STATUSES:
                history = events(name)
                sid = json.loads(history[0][2])["sessionID"]
                published: list[str] = []
                last_at: int | None = None
                for seq, kind, raw in history:
                    at = _event_time(raw)
                    if last_at is not None and at is not None and at > last_at:
                        await asyncio.sleep(min(CLOCK.cap, (at - last_at) / 1000 * CLOCK.scale))
                    last_at = at if at is not None else last_at
                    write_event(db, seq, kind, raw)
                    published += statuses_of(client.drain(), sid)
                await asyncio.sleep(1.0)
                published += statuses_of(client.drain(), sid)
                assert is_subsequence(KEY_STATUSES[name], published), (name, published)
                if name == "long-command":  # a running command is no prompt
                    assert "waiting_for_approval" not in published, reasons
    finally:
        daemon.kill()
        db.close()
    assert "opencode row skipped" not in daemon.output()


def statuses_of(events: list[SSEEvent], sid: str) -> list[str]:
    """The statuses published for one session (a new one's first is a transition from null)."""
    found: list[str] = []
    for e in events:
        if e.event == "transition" and e.data["session"]["id"] == sid:
            found.append(e.data["to"])
            reasons.append(f"{e.data['to']}: {e.data['reason']}")
    return found


reasons: list[str] = []  # what each published transition said, for a failure's message


def _event_time(raw: str) -> int | None:
    data = json.loads(raw)
    if isinstance(data.get("time"), int):
        return int(data["time"])
    times = (data.get("info") or {}).get("time") or {}
    found = [t for t in (times.get("updated"), times.get("completed")) if isinstance(t, int)]
    return max(found) if found else None


def test_inspect_reads_an_opencode_database(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    conn = sqlite3.connect(db)
    conn.executescript((DATA / "rejected.sql").read_text(encoding="utf-8"))
    newest = conn.execute("SELECT max(time_updated) FROM part").fetchone()[0]
    conn.close()
    now = datetime.fromtimestamp(newest / 1000 + 1, UTC)
    result = inspect_file(db, now)
    assert (result.agent, result.status) == ("opencode", "waiting_for_input")
    assert "bash was refused" in result.reason
    done = subprocess.run([sys.executable, "-m", "sessiond", "inspect", str(db), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["agent"] == "opencode"
    (tmp_path / "not.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    bad = subprocess.run([sys.executable, "-m", "sessiond", "inspect", str(tmp_path / "not.db")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "OpenCode database" in bad.stderr


# -- OpenCode before 1.2: its JSON files, from the real opencode-ai 1.1.65 --------------

LEGACY = DATA / "1.1.65"


def legacy_state(name: str, tmp_path: Path) -> tuple[Any, datetime]:
    from sessiond.mirror.opencode import OpenCodeMirror

    data = tmp_path / name
    shutil.copytree(LEGACY / name, data)
    mirror = OpenCodeMirror(data, tmp_path / f"{name}-mirror")
    mirror.sync()
    (log,) = list(mirror.mirror_dir.glob("*.jsonl"))
    return state_of_log(log, mirror.mirror_dir)


def test_the_json_files_of_opencode_1_1_while_it_asks_and_after(tmp_path: Path) -> None:
    # `asking`: copied while OpenCode 1.1.65 showed its permission dialog for the command.
    state, at = legacy_state("asking", tmp_path)
    assert classify(state, at + timedelta(seconds=1), LIMITS).status == "working"
    verdict = classify(state, at + timedelta(seconds=5), LIMITS)
    assert verdict.status == "waiting_for_approval" and verdict.pending_tool is not None
    assert verdict.pending_tool.summary == "./release.sh --dry-run"
    assert state.meta.title == "run the release script"
    # `approved`: the same session once the user allowed it and the turn ended.
    state, at = legacy_state("approved", tmp_path)
    verdict = classify(state, at + timedelta(seconds=1), LIMITS)
    assert verdict.status == "waiting_for_input" and "finish: stop" in verdict.reason


def test_the_daemon_on_the_json_files_of_opencode_1_1(tmp_path: Path) -> None:
    # Copied as OpenCode writes them: now (a file's mtime is when OpenCode wrote it).
    data = tmp_path / "d" / "opencode"
    shutil.copytree(LEGACY / "asking", data, copy_function=shutil.copy)
    sid = next((data / "storage" / "session" / "global").glob("*.json")).stem
    with running(make_daemon(tmp_path / "d")) as daemon:
        wait_for(lambda: daemon.sessions()[sid]["status"] == "waiting_for_approval", timeout=30)
        shutil.copytree(LEGACY / "approved" / "storage", data / "storage", dirs_exist_ok=True,
                        copy_function=shutil.copy)
        wait_for(lambda: daemon.sessions()[sid]["status"] == "waiting_for_input", timeout=30)
