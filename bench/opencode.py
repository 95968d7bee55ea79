"""OpenCode: how fast a change in its database reaches SSE, and what following it costs.

- **latency**: the real daemon following an OpenCode database (recent layout, with its
  event log) written the way opencode 1.18.33 writes it (tests/opencode_db.py); each sample
  commits an assistant message that ends the turn, at a random phase of the mirror's
  poll, and times until the `waiting_for_input` transition reaches an SSE client; a new
  prompt then sets the session working again.
- **reads**: one big database (`sessions` × 10 messages × 10 parts, with an event log) and
  what one read of it costs the mirror in CPU: the first read (a scan by `time_updated`,
  also the only way for databases without an event log) and a steady read of 30 new
  events; plus the check that notices a commit (`CommitWatch`, `POLL_S` apart: twenty a second).
"""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.stats import summary_ms


def latency(work: Path, backend: str, *, samples: int) -> dict[str, Any]:
    from tests.opencode_db import Database, assistant, prompt, text, user

    root = Path(tempfile.mkdtemp(dir=work))
    data = root / "opencode"
    db = Database(data)
    daemon = Daemon(root / "d", backend=backend, extra_env={"OPENCODE_DATA_DIR": str(data)})
    latencies: list[int] = []
    rng = random.Random(7)
    with daemon:
        daemon.start()
        sid = db.session(directory="/home/dev/bench")
        with ClientPool(daemon.port, daemon.token, 1, stream=True) as pool:
            for i in range(samples):
                um = db.message(sid, user())
                db.part(sid, um, prompt(f"step {i}"))
                if pool.wait_transition(sid, "working", 5) is None:
                    break
                am = db.message(sid, assistant(parent=um))
                db.part(sid, am, text("Done."))
                # A random phase against the 50 ms poll, as a real commit has.
                time.sleep(rng.uniform(0.02, 0.08))
                pool.drain()
                at = time.monotonic_ns()
                db.message(sid, assistant(completed=True, finish="stop", parent=um), mid=am)
                rec = pool.wait_transition(sid, "waiting_for_input", 5)
                if rec is None:
                    break
                latencies.append(rec[4] - at)
    db.close()
    return {"samples": len(latencies), "wanted": samples, **(summary_ms(latencies) if latencies else {})}


def build(path: Path, sessions: int) -> int:
    """A database like a long-time user's: `sessions` × 10 messages × 10 parts, evented."""
    from tests.opencode_db import EVENT_SCHEMA, SCHEMA

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA + EVENT_SCHEMA)
    old = int(time.time() * 1000) - 30 * 86_400_000
    part = json.dumps({"type": "tool", "tool": "bash", "callID": "c", "state": {
        "status": "completed", "input": {"command": "x" * 100}, "output": "y" * 500,
        "metadata": {"output": "y" * 300}}})
    conn.execute("BEGIN")
    for s in range(sessions):
        sid = f"ses_{s:08d}"
        conn.execute("INSERT INTO session (id, project_id, slug, directory, title, version, time_created,"
                     " time_updated) VALUES (?, 'g', 's', '/d', 't', '1.18.33', ?, ?)", (sid, old, old))
        for m in range(10):
            mid = f"msg_{s:06d}{m:04d}"
            message = json.dumps({"role": "assistant", "finish": "stop",
                                  "time": {"created": old, "completed": old}})
            conn.execute("INSERT INTO message VALUES (?, ?, ?, ?, ?)", (mid, sid, old, old, message))
            conn.execute("INSERT INTO event VALUES (?, ?, ?, 'message.updated.1', ?)",
                         (f"evt_{s:06d}{m:04d}", sid, m, json.dumps({"sessionID": sid, "info": {"id": mid}})))
            for q in range(10):
                conn.execute("INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                             (f"prt_{s:06d}{m:04d}{q:02d}", mid, sid, old, old, part))
    conn.execute("COMMIT")
    conn.close()
    return path.stat().st_size


def reads(work: Path, *, sessions: int, runs: int) -> dict[str, Any]:
    from sessiond.mirror.opencode import POLL_S, OpenCodeMirror
    from sessiond.mirror.opencode_storage import CommitWatch, read_database

    from tests.opencode_db import Database, assistant, tool, user

    data = Path(tempfile.mkdtemp(dir=work)) / "opencode"
    data.mkdir()
    size = build(data / "opencode.db", sessions)
    since = int(time.time() * 1000) - 5000
    scan_ms, event_ms = [], []
    for _ in range(runs):
        t = time.process_time()
        first = read_database(data / "opencode.db", since, None)
        scan_ms.append((time.process_time() - t) * 1000)
        db = Database(data)
        sid = db.session()
        um = db.message(sid, user())
        am = db.message(sid, assistant(parent=um))
        for i in range(28):
            db.part(sid, am, tool("bash", "running", {"command": f"step {i}"}, started=True))
        db.close()
        t = time.process_time()
        steady = read_database(data / "opencode.db", since, first.event_rowid)
        event_ms.append((time.process_time() - t) * 1000)
        assert not steady.scanned and len(steady.rows) >= 30
    # OpenCode running, idle: its connection holds the database open (with a WAL).
    opencode = sqlite3.connect(data / "opencode.db", isolation_level=None)
    opencode.execute("CREATE TABLE IF NOT EXISTS bench_open (x)")
    watch = CommitWatch(data / "opencode.db")
    assert watch.changed()
    t = time.process_time()
    for _ in range(1000):
        watch.changed()
    per_check_s = (time.process_time() - t) / 1000
    watch.close()
    opencode.close()
    mirror = OpenCodeMirror(data, data.parent / "mirror")
    t = time.process_time()
    mirror.sync()
    first_sync_ms = (time.process_time() - t) * 1000
    return {
        "sessions": sessions, "parts": sessions * 100, "db_mb": round(size / 1e6, 1),
        "scan_cpu_ms": round(min(scan_ms), 2), "event_read_cpu_ms": round(min(event_ms), 3),
        "poll_cpu_percent": round(per_check_s / POLL_S * 100, 4),
        "first_sync_cpu_ms": round(first_sync_ms, 1),
    }


def run(work: Path, backend: str, *, samples: int, sessions: int) -> dict[str, Any]:
    return {"latency": latency(work, backend, samples=samples),
            "reads": reads(work, sessions=sessions, runs=3)}
