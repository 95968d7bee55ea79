"""The database may be corrupt or its disk full: the daemon starts, keeps serving, says so
in /health, loses nothing it can rebuild, and never lets event ids go backwards.

Real SQLite files and real daemons; the full disk is a real 2 MB tmpfs the test mounts
(skipped, with the reason, where mounting is not allowed).
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sessiond.store.db import Store, StoreRebuilt
from sessiond.store.persistence import IdFloor

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.transcripts import ClaudeTranscript
from tests.waiting import wait_for


def corrupt_inner_page(db: Path, page: int = 3) -> None:
    """Random bytes over one page past the header (what a bad sector or a stray write does)."""
    size = 4096
    with db.open("r+b") as fh:
        fh.seek(page * size)
        fh.write(random.Random(page).randbytes(size))


def last_event_id(daemon: DaemonProcess) -> int:
    status, body = daemon.get("/api/sessions")
    assert status == 200, body
    return int(body["last_event_id"])


def test_a_corrupt_inner_page_is_found_at_start_and_rebuilt(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    sessions = [ClaudeTranscript(daemon.claude_projects, cwd=f"/w/p{n}") for n in range(40)]
    for t in sessions:
        t.write(t.prompt("a task " + "x" * 300), t.reply("done"))
    wait_for(lambda: len(daemon.sessions()) == 40 and last_event_id(daemon) >= 80)
    before = last_event_id(daemon)
    assert daemon.stop() == 0
    db = daemon.state_dir / "sessiond.db"
    assert db.stat().st_size > 6 * 4096
    corrupt_inner_page(db)
    daemon.start()  # used to exit 1 on every start: "database disk image is malformed"
    try:
        assert len(list(daemon.state_dir.glob("sessiond.db.corrupt-*Z"))) == 1
        assert daemon.output().count("database unreadable") == 1
        assert {s["status"] for s in daemon.sessions().values()} == {"waiting_for_input"}
        t = sessions[0]
        t.write(t.prompt("after the rebuild"))
        wait_for(lambda: last_event_id(daemon) > before)  # ids go on from before
    finally:
        daemon.kill()


def test_a_store_that_turns_corrupt_while_in_use_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "sessiond.db"
    store = Store(path)
    for n in range(400):
        store.set_json(f"k{n}", "v" * 200)
    store.close()
    corrupt_inner_page(path, page=2)
    # Opened before the damage is seen (the quick check would find it): reopen without it.
    store = Store.__new__(Store)
    store.path, store.rebuilds = path, 0
    store._lock = __import__("threading").Lock()
    store._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    with pytest.raises(StoreRebuilt):
        for n in range(400):
            store.set_json(f"k{n}", "w")
    assert store.rebuilds == 1
    assert list(tmp_path.glob("sessiond.db.corrupt-*"))
    store.set_json("after", 1)  # the fresh database works
    assert store.get_json("after") == 1 and store.get_json("k1") is None
    store.close()


def test_the_id_floor_outlives_the_database(tmp_path: Path) -> None:
    floor = IdFloor(tmp_path / "event-id")
    assert floor.read() == 0
    floor.write(48_020)
    floor.write(1_000)  # overwritten in place: the shorter number leaves no digit behind
    assert floor.read() == 1_000
    floor.write(48_020)
    assert (tmp_path / "event-id").stat().st_size == 32  # fixed size: no new block later


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_reported_bounded_and_survived(small_disk: Path, tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d", extra_env={"SESSIOND_STATE_DIR": str(small_disk / "state")})
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        t = ClaudeTranscript(daemon.claude_projects)
        t.write(t.prompt("before the disk filled"))
        wait_for(lambda: t.session_id in daemon.sessions())
        filler = fill(small_disk)
        others = [ClaudeTranscript(daemon.claude_projects, cwd=f"/w/p{n}") for n in range(30)]
        for round_no in range(20):
            for o in others:
                o.write(o.prompt(f"task {round_no} " + "y" * 2000) if round_no % 2 == 0 else o.reply("done"))
        store = wait_for(lambda: (h := daemon.get("/health")[1]["components"].get("store"))
                         and h["status"] == "degraded" and h)
        assert "full" in store["detail"]
        assert daemon.get("/health")[0] == 200  # degraded, still serving
        assert len(daemon.sessions()) == 31  # every session is still shown
        status, body = daemon.request("POST", "/api/mute", {"project": "app"})
        assert status == 503 and body["error"].endswith(".") and "full" in body["error"]
        time.sleep(2.5)  # failed writes are retried every second: still one warning a minute
        logged = daemon.output()
        assert 1 <= logged.count("could not write to the state dir") <= 2
        assert "Traceback" not in logged
        before_kill = last_event_id(daemon)
        filler.unlink()
        wait_for(lambda: daemon.get("/health")[1]["components"]["store"]["status"] == "ok")
        daemon.kill()
        daemon.start()  # ids never go backwards, whatever the disk did
        t.write(t.reply("after the restart"))
        wait_for(lambda: last_event_id(daemon) > before_kill)
    finally:
        daemon.kill()


def test_starting_on_a_full_disk_is_one_sentence_and_leaves_no_empty_token(
    small_disk: Path, tmp_path: Path
) -> None:
    fill(small_disk)
    env = {**os.environ, "SESSIOND_STATE_DIR": str(small_disk / "state"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "sessiond", "run", "--no-notify", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "full" in done.stderr, done.stderr
    assert not (small_disk / "state" / "token").exists()
