"""OpenCode: its storage read into the mirror, the rules over the mirror, its plugin events,
and the real daemon following a session through both storage layouts.

The rows are OpenCode's own objects as opencode 1.18.33 writes them (tests/opencode_db.py;
see docs/agents/opencode.md). tests/test_opencode_real.py runs the real OpenCode.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from sessiond.hooks import install as hook_install
from sessiond.mirror.opencode import OpenCodeMirror
from sessiond.mirror.opencode_storage import CommitWatch, read_database
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.opencode import hooks
from sessiond.sources.opencode.records import Row, to_record
from sessiond.sources.opencode.transcript import OpenCodeSource, OpenCodeState, opencode_data_dir
from sessiond.sources.plugin import HookSetup

from tests.daemon_proc import DaemonProcess, make_daemon, running
from tests.opencode_db import Database, Tree, assistant, prompt, state_of_log, text, tool, user
from tests.waiting import wait_for

LIMITS = Thresholds()
SOURCE = OpenCodeSource()


def state_of(mirror: OpenCodeMirror, sid: str) -> tuple[OpenCodeState, datetime]:
    """The session's state from its mirror log, and the time of its last record."""
    mirror.sync()
    return state_of_log(next(mirror.mirror_dir.rglob(f"{sid}.jsonl")), mirror.mirror_dir)


def status(mirror: OpenCodeMirror, sid: str, after: float = 0.5) -> tuple[str, str]:
    state, last = state_of(mirror, sid)
    verdict = classify(state, last + timedelta(seconds=after), LIMITS)
    return verdict.status, verdict.reason


@pytest.fixture(params=["events", "tables"])
def db(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Both database layouts: recent OpenCode's (with its event log) and older ones."""
    database = Database(tmp_path / "opencode", events=request.param == "events")
    yield database
    database.close()


@pytest.fixture
def mirror(tmp_path: Path) -> OpenCodeMirror:
    return OpenCodeMirror(tmp_path / "opencode", tmp_path / "state" / "mirror" / "opencode")


def test_the_data_dir_follows_opencode_s_rules(tmp_path: Path) -> None:
    assert opencode_data_dir({}, tmp_path) == tmp_path / ".local/share/opencode"
    assert opencode_data_dir({"XDG_DATA_HOME": "/x"}, tmp_path) == Path("/x/opencode")
    assert opencode_data_dir({"OPENCODE_DATA_DIR": "/y", "XDG_DATA_HOME": "/x"}, tmp_path) == Path("/y")


def test_a_turn_moves_through_every_status(db: Database, mirror: OpenCodeMirror) -> None:
    sid = db.session(title="")
    assert status(mirror, sid)[0] == "waiting_for_input"  # created, no prompt yet
    um = db.message(sid, user())
    db.part(sid, um, prompt("add a health endpoint"))
    assert status(mirror, sid) == ("working", "line 2: prompt sent, the model is working")
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, text("Let me look at the router.", done=False))
    assert status(mirror, sid)[0] == "working"
    # bash asked about: running, not started. Working at first, a guessed approval after 4 s.
    call = db.part(sid, am, tool("bash", "running", {"command": "npm test", "description": "tests"}))
    assert status(mirror, sid, after=1)[0] == "working"
    shown, reason = status(mirror, sid, after=5)
    assert shown == "waiting_for_approval" and "bash has not started" in reason and "inferred" in reason
    # Allowed: the command starts (metadata), however long it then runs, it works.
    db.part(sid, am, tool("bash", "running", {"command": "npm test"}, started=True), pid=call)
    assert status(mirror, sid, after=60)[0] == "working"
    db.part(sid, am, tool("bash", "completed", {"command": "npm test"}, output="ok"), pid=call)
    db.message(sid, assistant(completed=True, finish="tool-calls", parent=um), mid=am)
    shown, reason = status(mirror, sid, after=20)
    assert shown == "working" and reason.endswith("step done, the tools' results go back to the model")
    last = db.message(sid, assistant(parent=um))
    db.part(sid, last, text("Added GET /health."))
    db.message(sid, assistant(completed=True, finish="stop", parent=um), mid=last)
    state, at = state_of(mirror, sid)
    verdict = classify(state, at + timedelta(seconds=1), LIMITS)
    assert verdict.status == "waiting_for_input" and "finish: stop" in verdict.reason
    assert state.meta.title == "add a health endpoint" and state.meta.project == "acme-api"
    assert state.meta.last_reply == "Added GET /health."
    db.session(sid, title="Add a health endpoint", archived=True)
    assert status(mirror, sid)[0] == "ended"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"name": "MessageAbortedError", "data": {"message": "Aborted"}}, "interrupted by the user"),
        ({"name": "APIError", "data": {"message": "overloaded"}}, "the turn failed (APIError: overloaded)"),
    ],
)
def test_an_assistant_error_waits_for_input(
    db: Database, mirror: OpenCodeMirror, error: dict[str, Any], expected: str
) -> None:
    sid = db.session()
    um = db.message(sid, user())
    db.message(sid, assistant(completed=True, error=error, parent=um))
    shown, reason = status(mirror, sid)
    assert shown == "waiting_for_input" and expected in reason


def test_a_refused_permission_ends_the_turn(db: Database, mirror: OpenCodeMirror) -> None:
    # As opencode 1.18.33 wrote it: the tool errors with the rejection, the step finishes
    # with "tool-calls", and OpenCode stops the loop.
    sid = db.session()
    um = db.message(sid, user())
    am = db.message(sid, assistant(parent=um))
    db.part(
        sid,
        am,
        tool(
            "bash",
            "error",
            {"command": "rm -rf build"},
            error="The user rejected permission to use this specific tool call.",
        ),
    )
    db.message(sid, assistant(completed=True, finish="tool-calls", parent=um), mid=am)
    shown, reason = status(mirror, sid, after=30)
    assert shown == "waiting_for_input" and "bash was refused" in reason


def test_a_question_waits_for_input_with_the_question(db: Database, mirror: OpenCodeMirror) -> None:
    sid = db.session()
    um = db.message(sid, user())
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, tool("question", "running", {"question": "Which database?"}))
    state, at = state_of(mirror, sid)
    verdict = classify(state, at + timedelta(seconds=1), LIMITS)
    assert verdict.status == "waiting_for_input" and verdict.pending_tool is not None
    assert verdict.pending_tool.summary == "Which database?"


def test_with_exact_approvals_no_guess_is_made(db: Database, mirror: OpenCodeMirror) -> None:
    sid = db.session()
    um = db.message(sid, user())
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, tool("edit", "running", {"filePath": "/src/app.ts"}))
    state, at = state_of(mirror, sid)
    exact = Thresholds(infer_approval=False)
    assert classify(state, at + timedelta(minutes=2), exact).status == "working"


def test_a_subagent_session_is_mirrored_under_its_parent(db: Database, mirror: OpenCodeMirror) -> None:
    parent = db.session()
    child = db.session(parent=parent, title="Explore the codebase (@explore subagent)")
    um = db.message(child, user())
    db.part(child, um, prompt("find the router"))
    mirror.sync()
    path = mirror.mirror_dir / parent / "subagents" / f"{child}.jsonl"
    info = SOURCE.identify(path, mirror.mirror_dir)
    assert info == FileInfo("opencode", child, role="subagent", parent_id=parent)


def test_nothing_is_written_twice_and_streaming_adds_no_records(db: Database, mirror: OpenCodeMirror) -> None:
    sid = db.session()
    um = db.message(sid, user())
    am = db.message(sid, assistant(parent=um))
    pid = db.part(sid, am, text("", done=False))
    first = mirror.sync()
    assert first > 0 and mirror.sync() == 0
    for n in range(20):  # a reply streaming word by word rewrites its part each time
        db.part(sid, am, text("word " * n, done=False), pid=pid)
        assert mirror.sync() == 0
    db.part(sid, am, text("word " * 20), pid=pid)
    assert mirror.sync() == 1
    # A new mirror (the daemon restarted) finds what its log already holds: no repeat.
    again = OpenCodeMirror(mirror.data_dir, mirror.mirror_dir)
    assert again.sync() == 0


def test_hostile_rows_are_skipped_with_one_warning_each(db: Database, mirror: OpenCodeMirror) -> None:
    sid = db.session()
    um = db.message(sid, user())
    db.raw("INSERT INTO part VALUES ('prt_bad1', ?, ?, 1, ?, 'not json')", um, sid, int(time.time() * 1000))
    db.raw("INSERT INTO part VALUES ('prt_bad2', ?, ?, 1, ?, '[1, 2]')", um, sid, int(time.time() * 1000))
    db.raw("INSERT INTO part VALUES ('../../etc', ?, ?, 1, ?, '{}')", um, sid, int(time.time() * 1000))
    db.raw("INSERT INTO message VALUES ('msg_bad3', ?, 1, 'soon', '{}')", sid)
    db.raw("INSERT INTO message VALUES ('msg_bad4', '../x', 1, ?, '{}')", int(time.time() * 1000))
    db.part(sid, um, prompt("still here"))
    with structlog.testing.capture_logs() as logs:
        mirror.sync()
        mirror.sync()  # read again: no second warning
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 5, warnings
    assert all(e["event"] == "opencode row skipped" for e in warnings)
    state, _ = state_of(mirror, sid)
    assert state.meta.last_prompt == "still here"
    assert not list(mirror.mirror_dir.rglob("etc*")) and not (mirror.mirror_dir.parent / "x.jsonl").exists()


def test_every_commit_is_noticed_and_nothing_is_held_while_opencode_is_closed(tmp_path: Path) -> None:
    data = tmp_path / "opencode"
    db = Database(data)
    watch = CommitWatch(db.path)
    assert watch.changed() and not watch.changed()
    sid = db.session()
    for _ in range(50):  # commits a millisecond apart: each one is seen
        db.message(sid, user())
        assert watch.changed() and not watch.changed()
    # OpenCode closes the database while sessiond is not looking (sessiond's own
    # connection would keep the WAL, and OpenCode's next start would find it as it is).
    watch.close()
    db.close()  # the last connection: SQLite checkpoints and removes the WAL
    assert not (data / "opencode.db-wal").exists()
    assert watch.changed()  # once: what was committed just before it closed is read
    assert not watch.changed() and watch._conn is None  # no connection while OpenCode is closed
    # An OpenCode starting now, even with no busy timeout, never meets a lock of ours.
    again = sqlite3.connect(db.path, timeout=0, isolation_level=None)
    again.execute("PRAGMA journal_mode=WAL")
    again.close()


def test_recent_opencode_is_read_by_its_event_log(tmp_path: Path) -> None:
    db = Database(tmp_path / "opencode", events=True)
    sid = db.session()
    um = db.message(sid, user())
    first = read_database(db.path, 0, None)
    assert first.scanned and first.event_rowid == 2  # a first read scans, then follows the log
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, tool("bash", "running", {"command": "make"}))
    then = read_database(db.path, 0, first.event_rowid)
    assert not then.scanned and then.event_rowid == 4
    assert [r.kind for r in then.rows] == ["message", "part", "session"]  # its session row, for its path
    # Sessions deleted (their events with them): the log is below our place, so scan again.
    db.raw("DELETE FROM event")
    again = read_database(db.path, 0, then.event_rowid)
    assert again.scanned and again.event_rowid is None
    db.close()


def test_an_event_log_no_longer_kept_is_noticed(tmp_path: Path) -> None:
    # An OpenCode that keeps its old event table but writes no more events (newer builds
    # keep the log only with experimental workspaces on): rows added, no event.
    db = Database(tmp_path / "opencode", events=True)
    mirror = OpenCodeMirror(db.path.parent, tmp_path / "mirror")
    sid = db.session()
    um = db.message(sid, user())
    mirror.sync()
    db.events = False
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, text("All done."))
    db.message(sid, assistant(completed=True, finish="stop", parent=um), mid=am)
    with structlog.testing.capture_logs() as logs:
        mirror.sync()
    assert [e["event"] for e in logs] == ["this OpenCode keeps no event log; reading its tables instead"]
    shown, _ = status(mirror, sid)
    assert shown == "waiting_for_input"
    db.close()


def test_hostile_events_are_skipped_with_one_warning_each(tmp_path: Path) -> None:
    db = Database(tmp_path / "opencode", events=True)
    mirror = OpenCodeMirror(db.path.parent, tmp_path / "mirror")
    sid = db.session()
    mirror.sync()  # from here on, the event log is followed
    for n, data in enumerate(['{"part": ', "[1]", '{"part": {"id": "../../x", "sessionID": "ses_1"}}',
                              '{"info": {"id": 7}}']):
        kind = "message.updated.1" if "info" in data else "message.part.updated.1"
        db.raw("INSERT INTO event VALUES (?, ?, ?, ?, ?)", f"evt_bad{n}", sid, 100 + n, kind, data)
    um = db.message(sid, user())
    db.part(sid, um, prompt("still read"))
    with structlog.testing.capture_logs() as logs:
        mirror.sync()
    assert [e["event"] for e in logs] == ["opencode row skipped"] * 4
    state, _ = state_of(mirror, sid)
    assert state.meta.last_prompt == "still read"
    db.close()


def test_a_database_being_created_is_no_problem(tmp_path: Path) -> None:
    # OpenCode creates the file, then its tables (migrations): in between, nothing to read.
    data = tmp_path / "opencode"
    data.mkdir()
    sqlite3.connect(data / "opencode.db").close()
    mirror = OpenCodeMirror(data, tmp_path / "mirror")
    with structlog.testing.capture_logs() as logs:
        assert mirror.sync() == 0
    assert logs == []


def test_a_file_that_is_not_a_database_is_one_warning(tmp_path: Path) -> None:
    data = tmp_path / "opencode"
    data.mkdir()
    (data / "opencode.db").write_bytes(b"this is not sqlite" * 100)
    mirror = OpenCodeMirror(data, tmp_path / "mirror")
    with structlog.testing.capture_logs() as logs:
        assert mirror.sync() == 0
        assert mirror.sync() == 0
    assert [e["event"] for e in logs] == ["opencode database unreadable; will retry"]


WRITER = """
import json, sqlite3, sys, time
sys.path.insert(0, sys.argv[3])
from tests.opencode_db import Database, assistant, tool
# busy_timeout 0: any lock held by the reader would be an error here.
db = Database(__import__("pathlib").Path(sys.argv[1]), events=sys.argv[4] == "events")
sid, n = sys.argv[2], 400
um = db.message(sid, {"role": "user", "time": {"created": 1}})
am = db.message(sid, assistant(parent=um))
parts = [db.part(sid, am, tool("bash", "pending")) for _ in range(4)]
for i in range(n):
    status = "completed" if i >= n - 4 else "running"
    db.part(sid, am, tool("bash", status, {"command": f"step {i}"}, started=i % 2 == 0), pid=parts[i % 4])
print("ok")
"""


@pytest.mark.parametrize("layout", ["events", "tables"])
def test_a_database_written_by_another_process_while_read(tmp_path: Path, layout: str) -> None:
    data = tmp_path / "opencode"
    db = Database(data, events=layout == "events")
    sid = db.session()
    db.close()
    mirror = OpenCodeMirror(data, tmp_path / "mirror")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), sid, str(Path.cwd()), layout],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    passes, watch = 0, CommitWatch(data / "opencode.db")
    while writer.poll() is None:  # as the daemon follows it: read when OpenCode committed
        if watch.changed():
            mirror.sync()
            passes += 1
    out, err = writer.communicate()
    assert writer.returncode == 0 and out.strip() == "ok", err  # never locked out
    mirror.sync()
    assert passes > 5
    # No change missed: every part's last state is its final, completed one.
    records = [json.loads(x) for x in (mirror.mirror_dir / f"{sid}.jsonl").read_text().splitlines()]
    final: dict[str, Any] = {}
    for r in records:
        if r["type"] == "part":
            final[r["part"]["id"]] = r["part"]["state"]["status"]
    assert sorted(final.values()) == ["completed"] * 4


def test_the_json_tree_of_older_opencode(tmp_path: Path) -> None:
    data = tmp_path / "opencode"
    tree = Tree(data)
    sid = tree.session(title="Fix the flaky test")
    um = tree.message(sid, user())
    tree.part(sid, um, prompt("fix the flaky test"))
    am = tree.message(sid, assistant(parent=um))
    pid = tree.part(sid, am, tool("bash", "running", {"command": "pytest -x"}))
    mirror = OpenCodeMirror(data, tmp_path / "mirror")
    assert status(mirror, sid, after=5)[0] == "waiting_for_approval"
    tree.part(sid, am, tool("bash", "completed", {"command": "pytest -x"}, output="1 passed"), pid=pid)
    tree.message(sid, assistant(completed=True, finish="stop", parent=um), mid=am)
    state, at = state_of(mirror, sid)
    assert classify(state, at + timedelta(seconds=1), LIMITS).status == "waiting_for_input"
    assert state.meta.title == "Fix the flaky test"
    # A half-written file (OpenCode rewrites in place) is skipped, then read once whole.
    (tree.storage / "part" / am / "prt_torn.json").write_text('{"id": "prt_torn", "sessionI')
    with structlog.testing.capture_logs() as logs:
        mirror.sync_tree([tree.storage / "part" / am / "prt_torn.json"])
    assert [e["event"] for e in logs] == ["opencode row skipped"]


# -- property tests ------------------------------------------------------------------------

_ids = st.sampled_from(["msg_a", "msg_b", "msg_c", "prt_1", "prt_2", "prt_3", ""])
_junk = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))
_records = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "at": st.integers(0, 10**13),
            "message": st.fixed_dictionaries(
                {
                    "id": _ids,
                    "role": st.sampled_from(["user", "assistant", "", "x"]),
                    "time": st.one_of(
                        _junk, st.fixed_dictionaries({"created": st.integers(), "completed": st.integers()})
                    ),
                    "finish": st.one_of(_junk, st.sampled_from(["stop", "tool-calls", "length"])),
                    "error": st.one_of(_junk, st.fixed_dictionaries({"name": _junk, "message": _junk})),
                }
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("part"),
            "at": st.integers(0, 10**13),
            "part": st.fixed_dictionaries(
                {
                    "id": _ids,
                    "messageID": _ids,
                    "type": st.sampled_from(["tool", "text", "step-finish", "?"]),
                    "tool": st.one_of(_junk, st.sampled_from(["bash", "edit", "question", "read"])),
                    "text": _junk,
                    "state": st.one_of(
                        _junk,
                        st.fixed_dictionaries(
                            {
                                "status": st.one_of(
                                    _junk, st.sampled_from(["pending", "running", "completed", "error"])
                                ),
                                "input": st.one_of(
                                    _junk, st.dictionaries(st.text(max_size=5), _junk, max_size=3)
                                ),
                                "started": st.booleans(),
                                "error": _junk,
                            }
                        ),
                    ),
                }
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("session"),
            "at": _junk,
            "session": st.fixed_dictionaries(
                {"id": _ids, "directory": _junk, "title": _junk, "parentID": _junk, "time": _junk}
            ),
        }
    ),
    st.dictionaries(st.text(max_size=6), _junk, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_records, max_size=30), st.integers(0, 120))
def test_any_record_sequence_gives_a_status(records: list[dict[str, Any]], seconds: int) -> None:
    state = SOURCE.new_state(FileInfo("opencode", "ses_x"))
    t = datetime(2026, 12, 4, 10, 0, tzinfo=__import__("datetime").UTC)
    for n, record in enumerate(records, 1):
        state.feed(record, n, t + timedelta(seconds=n))
    verdict = classify(state, t + timedelta(seconds=len(records) + seconds), LIMITS)
    assert verdict.status in ("working", "waiting_for_approval", "waiting_for_input", "idle", "ended")
    assert len(verdict.reason) <= 300


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["session", "message", "part"]),
    st.dictionaries(
        st.sampled_from(
            [
                "parentID",
                "messageID",
                "role",
                "type",
                "tool",
                "state",
                "time",
                "text",
                "finish",
                "error",
                "title",
                "directory",
            ]
        ),
        _junk,
        max_size=8,
    ),
)
def test_any_row_becomes_a_record_or_a_bad_row(kind: str, data: dict[str, Any]) -> None:
    row = Row(kind, "prt_1", "ses_1", 5, data)  # type: ignore[arg-type]
    try:
        record = to_record(row)
    except ValueError:
        return
    assert SOURCE.recognises(record)
    json.dumps(record)  # what the mirror writes


# -- the plugin: its events and its file ------------------------------------------------------


def test_plugin_events_map_to_statuses() -> None:
    asked = {
        "id": "per_1",
        "sessionID": "ses_1",
        "permission": "bash",
        "patterns": ["git push"],
        "metadata": {"command": "git push origin main"},
        "always": ["git push *"],
        "tool": {"messageID": "msg_1", "callID": "call_1"},
    }
    shown, _, extra = hooks.map_hook("permission.asked", {"properties": asked})
    assert shown == "waiting_for_approval" and extra["tool"].summary == "git push origin main"
    assert hooks.map_hook("permission.replied", {"properties": {"reply": "once"}})[0] == "working"
    assert hooks.map_hook("session.status", {"properties": {"status": {"type": "busy"}}})[0] == "working"
    assert (
        hooks.map_hook("session.status", {"properties": {"status": {"type": "idle"}}})[0]
        == "waiting_for_input"
    )
    assert hooks.map_hook("session.status", {"properties": {"status": "weird"}})[0] is None
    assert hooks.map_hook("session.idle", {})[0] == "waiting_for_input"
    assert hooks.map_hook("session.deleted", {})[0] == "ended"
    aborted = hooks.map_hook("session.error", {"properties": {"error": {"name": "MessageAbortedError"}}})
    assert aborted[:2] == ("waiting_for_input", "interrupted by the user")
    assert hooks.map_hook("message.part.updated", {"properties": {}}) == (None, "", {})
    assert hooks.session_key({"session_id": "ses_1"}) == "ses_1"


def test_hooks_install_writes_the_plugin_and_uninstall_removes_it(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    setup = HookSetup(
        env=env,
        home=tmp_path,
        port=7330,
        token="t",
        forwarder=("/bin/sessiond-hook",),
        state_dir=tmp_path / "state dir",
    )
    path = tmp_path / "config" / "opencode" / "plugins" / "sessiond.js"
    assert hook_install.status("opencode", setup)[0].installed == []
    changes = hook_install.install("opencode", setup)
    assert changes[0].changed and changes[0].path == path
    text_js = path.read_text()
    assert json.dumps(str(tmp_path / "state dir")) in text_js and "permission.asked" in text_js
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not hook_install.install("opencode", setup)[0].changed  # twice: nothing written
    found = hook_install.status("opencode", setup)[0]
    assert found.installed == ["plugin"] and not found.stale
    moved = HookSetup(
        env=env,
        home=tmp_path,
        port=7330,
        token="t",
        forwarder=("/bin/sessiond-hook",),
        state_dir=tmp_path / "elsewhere",
    )
    assert hook_install.status("opencode", moved)[0].stale
    assert hook_install.uninstall("opencode", setup)[0].changed and not path.exists()
    assert not hook_install.uninstall("opencode", setup)[0].changed


# -- the real daemon -------------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path) -> Any:
    proc = make_daemon(tmp_path / "d")
    (tmp_path / "d" / "opencode").mkdir(parents=True)
    proc.start()
    yield proc
    proc.kill()


def test_the_daemon_follows_an_opencode_session(daemon: DaemonProcess, tmp_path: Path) -> None:
    db = Database(tmp_path / "d" / "opencode")
    sid = db.session(directory="/home/dev/acme-api")
    um = db.message(sid, user())
    db.part(sid, um, prompt("ship the release notes"))
    shown = wait_for(lambda: (s := daemon.sessions().get(sid)) and s["status"] == "working" and s)
    assert (shown["agent"], shown["project"], shown["title"]) == (
        "opencode",
        "acme-api",
        "ship the release notes",
    )
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, tool("bash", "running", {"command": "git push origin release"}))
    waiting = wait_for(
        lambda: (s := daemon.sessions()[sid])["status"] == "waiting_for_approval" and s, timeout=15
    )
    assert waiting["pending_tool"]["summary"] == "git push origin release"
    # A hostile entry meanwhile (in OpenCode's event log, which the daemon follows once it
    # has read the database once): one warning, the session goes on.
    db.raw("INSERT INTO event VALUES ('evt_evil', ?, 999, 'message.part.updated.1', '{\"part\": ')", sid)
    pid = db.part(sid, am, tool("bash", "completed", {"command": "git push origin release"}, output="done"))
    db.message(sid, assistant(completed=True, finish="tool-calls", parent=um), mid=am)
    wait_for(lambda: daemon.sessions()[sid]["status"] == "working")
    last = db.message(sid, assistant(parent=um))
    db.part(sid, last, text("Pushed."))
    db.message(sid, assistant(completed=True, finish="stop", parent=um), mid=last)
    wait_for(lambda: daemon.sessions()[sid]["status"] == "waiting_for_input")
    db.session(sid, title="Ship the release notes", archived=True)
    wait_for(lambda: daemon.sessions()[sid]["status"] == "ended")
    assert daemon.output().count("opencode row skipped") == 1
    code, health = daemon.get("/health")
    assert health["components"]["opencode"]["status"] == "ok"
    assert "by its event log" in health["components"]["opencode"]["detail"]
    assert pid
    # The plugin's events reach the session through /hooks/opencode, exactly.
    code, _ = daemon.request(
        "POST",
        "/hooks/opencode",
        {
            "hook_event_name": "permission.asked",
            "session_id": sid,
            "cwd": "/home/dev/acme-api",
            "properties": {
                "id": "per_1",
                "sessionID": sid,
                "permission": "edit",
                "metadata": {"filepath": "/home/dev/acme-api/NOTES.md"},
            },
        },
    )
    assert code == 204
    db.close()


def test_an_old_session_starts_idle_not_waiting(tmp_path: Path) -> None:
    # Three days ago OpenCode was stopped while a bash call had not started: at the
    # daemon's first start that is history (idle, as an old transcript is), not a wait.
    db = Database(tmp_path / "d" / "opencode")
    sid = db.session()
    um = db.message(sid, user())
    am = db.message(sid, assistant(parent=um))
    db.part(sid, am, tool("bash", "running", {"command": "make deploy"}))
    for table in ("session", "message", "part"):
        db.raw(f"UPDATE {table} SET time_updated = time_updated - ?", 3 * 86_400_000)
    db.close()
    with running(make_daemon(tmp_path / "d")) as daemon:
        shown = wait_for(lambda: daemon.sessions().get(sid))
        assert shown["status"] == "idle", shown["reason"]
        log = next((tmp_path / "d" / "state" / "mirror" / "opencode").glob("*.jsonl"))
        assert time.time() - log.stat().st_mtime > 2 * 86_400  # dated when OpenCode wrote it


def test_the_daemon_follows_the_json_files_of_older_opencode(tmp_path: Path) -> None:
    tree = Tree(tmp_path / "d" / "opencode")
    tree.storage.mkdir(parents=True)
    with running(make_daemon(tmp_path / "d")) as daemon:
        sid = tree.session(title="Bump the version")
        um = tree.message(sid, user())
        tree.part(sid, um, prompt("bump the version"))
        shown = wait_for(lambda: (s := daemon.sessions().get(sid)) and s["status"] == "working" and s)
        assert shown["agent"] == "opencode" and shown["title"] == "Bump the version"
        am = tree.message(sid, assistant(parent=um))
        tree.part(sid, am, text("Bumped to 1.4.0."))
        tree.message(sid, assistant(completed=True, finish="stop", parent=um), mid=am)
        wait_for(lambda: daemon.sessions()[sid]["status"] == "waiting_for_input")


def test_an_unreadable_database_degrades_health_and_the_daemon_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "d" / "opencode"
    data.mkdir(parents=True)
    (data / "opencode.db").write_bytes(b"not a database, but OpenCode's name for one" * 50)
    with running(make_daemon(tmp_path / "d")) as daemon:
        code, health = daemon.get("/health")
        assert code == 200 and health["components"]["opencode"]["status"] == "degraded"
        assert "opencode.db" in health["components"]["opencode"]["detail"]
        assert daemon.output().count("opencode database unreadable") == 1


def test_a_session_deleted_in_opencode_is_removed(tmp_path: Path) -> None:
    db = Database(tmp_path / "d" / "opencode")
    kept, deleted = db.session(), db.session()
    for sid in (kept, deleted):
        um = db.message(sid, user())
        db.part(sid, um, prompt("hello"))
    with running(make_daemon(tmp_path / "d")) as daemon:
        wait_for(lambda: {kept, deleted} <= set(daemon.sessions()))
        # What OpenCode's session removal does: the rows go (their events with them).
        with db.transaction():
            owned = (("part", "session_id"), ("message", "session_id"), ("event", "aggregate_id"))
            for table, column in owned:
                db.raw(f"DELETE FROM {table} WHERE {column} = ?", deleted)
            db.raw("DELETE FROM session WHERE id = ?", deleted)
        wait_for(lambda: deleted not in daemon.sessions(), timeout=20)
        assert kept in daemon.sessions()
    db.close()
