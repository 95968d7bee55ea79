"""Several machines: what the bus costs, on one machine with a real redis-server.

- **remote latency**: daemons `a` and `b` joined by the bus; lines appended to `a`'s
  transcripts; an SSE client on `b` times each transition. Latency = arrival on `b` −
  the write on `a` (the same monotonic clock).
- **fan-in load**: `machines` × `sessions` simulated machines publishing into one stream
  (each session a `session` and a `transition` entry, as a daemon does, every `period`
  seconds), read by one daemon: its CPU, RSS and the p99 from XADD to its SSE client.
"""

from __future__ import annotations

import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import transcript
from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.latency import write_turns
from bench.procstat import cpu_percent
from bench.stats import Expected, match, summary_ms

SESSIONS = 10


class Redis:
    def __init__(self, work: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.password = secrets.token_hex(8)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--requirepass", self.password,
             "--save", "", "--appendonly", "no", "--dir", str(work)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        self.client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password)
        for _ in range(200):
            try:
                self.client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)


def _machine(work: Path, backend: str, redis: Redis, name: str, *, watch: bool = True) -> Daemon:
    env = {"SESSIOND_BUS": redis.url, "SESSIOND_NAME": name}
    return Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend, extra_env=env,
                  extra_args=[] if watch else ["--no-watch"])


def remote_latency(work: Path, backend: str, *, appends: int) -> dict[str, Any]:
    if shutil.which("redis-server") is None:
        return {"samples": 0, "note": "redis-server is not installed"}
    rng = random.Random(7)
    appends -= appends % (2 * SESSIONS)
    redis = Redis(work)
    a, b = _machine(work, backend, redis, "a"), _machine(work, backend, redis, "b")
    sessions = transcript.make_sessions(a.claude_projects, SESSIONS)
    try:
        with a, b:
            a.start()
            b.start()
            time.sleep(1.0)
            with ClientPool(b.port, b.token, 1) as pool:
                time.sleep(0.5)
                expected = write_turns(sessions, appends, rng, (0.04, 0.12))
                time.sleep(1.5)
                per, _lost = pool.collect()
    finally:
        redis.stop()
    deliveries, wrong = match(expected, per)
    return {"appends": appends, "received": len(deliveries), "wrong": wrong,
            **summary_ms([ns for _, ns in deliveries])}


def _session(sid: str, host: str, status: str, at: str) -> dict[str, Any]:
    return {"id": sid, "agent": "claude", "parent_id": None, "project": f"p-{sid[-3:]}", "cwd": "/w",
            "branch": "main", "title": "simulated work", "status": status, "status_since": at,
            "last_activity": at, "pending_tool": None, "reason": "line 1: simulated",
            "source": "transcript", "decision": None, "terminal": None, "terminal_note": "", "host": host,
            "offline": False}


def fan_in(work: Path, backend: str, *, machines: int, sessions: int, period: float,
           seconds: float) -> dict[str, Any]:
    if shutil.which("redis-server") is None:
        return {"samples": 0, "note": "redis-server is not installed"}
    from sessiond.bus import wire
    from sessiond.protocol import format_ts

    redis = Redis(work)
    board = _machine(work, backend, redis, "board", watch=False)
    hosts = [f"m{n:02d}" for n in range(machines)]
    status: dict[tuple[str, str], str] = {}
    expected: Expected = {}
    total = machines * sessions
    sent = 0
    try:
        with board:
            board.start()
            with ClientPool(board.port, board.token, 1) as pool:
                time.sleep(0.5)
                start = time.monotonic()
                before = board.sample()
                tick = 0.05
                # Each session changes once per `period`, their turns spread evenly.
                order = [(h, f"{h}-{n:04d}-0000-4000-8000-000000000000")
                         for h in hosts for n in range(sessions)]
                per_tick = max(1, round(total * tick / period))
                i = 0
                while time.monotonic() - start < seconds:
                    pipe = redis.client.pipeline(transaction=False)
                    stamps = []
                    for _ in range(per_tick):
                        host, sid = order[i % total]
                        i += 1
                        new = "working" if status.get((host, sid)) != "working" else "waiting_for_input"
                        old = status.get((host, sid))
                        status[(host, sid)] = new
                        at = format_ts(datetime.now(UTC))
                        session = _session(sid, host, new, at)
                        pipe.xadd(wire.STREAM, wire.encode(host, "session", i, session))  # type: ignore[arg-type]
                        pipe.xadd(wire.STREAM, wire.encode(host, "transition", i, {  # type: ignore[arg-type]
                            "session_id": sid, "from": old, "to": new, "at": at, "reason": "simulated",
                            "source": "transcript", "session": session}))
                        stamps.append((sid, at, new))
                    written = time.monotonic_ns()
                    pipe.execute()
                    for sid, at, new in stamps:
                        expected[(sid, at)] = (new, written)
                    sent += len(stamps)
                    time.sleep(max(0.0, tick - (time.monotonic_ns() - written) / 1e9))
                after = board.sample()
                time.sleep(2.0)
                per, _lost = pool.collect()
                rss = board.sample().rss_kb
    finally:
        redis.stop()
    deliveries, wrong = match(expected, per)
    return {"machines": machines, "sessions": total, "transitions": sent,
            "per_s": round(sent / max(after.at - before.at, 1e-9), 1), "received": len(deliveries),
            "wrong": wrong, "cpu_percent": round(cpu_percent(before, after), 1),
            "rss_mb": round(rss / 1024, 1), **summary_ms([ns for _, ns in deliveries])}


def run(work: Path, backend: str, *, appends: int, machines: int, sessions: int, period: float,
        seconds: float) -> dict[str, Any]:
    return {"remote": remote_latency(work, backend, appends=appends),
            "fan_in": fan_in(work, backend, machines=machines, sessions=sessions, period=period,
                             seconds=seconds)}
