"""Figures that used to be asserted in tests, measured here instead (CI machines are
shared; a timing there is noise, a timing here is a figure):

- **shutdown**: SIGTERM with SSE clients connected → the process has exited (the
  contract allows 2 s), over a few runs;
- **hook memory**: RSS after bursts of 1,000 hook POSTs over 8 sessions, against the RSS
  after a first (warm-up) burst: flat, not growing per post;
- **huge transcript**: `size_mb` of ~2 KB progress lines appended to one session while the
  daemon runs: its peak RSS growth while reading it all, and how long that took.
"""

from __future__ import annotations

import json
import signal
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.daemon import Daemon
from bench.stats import percentile


def _sse(port: int, token: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    sock.recv(65536)
    return sock


def shutdown(work: Path, backend: str, *, runs: int, clients: int) -> dict[str, Any]:
    seconds: list[float] = []
    for _ in range(runs):
        daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
        with daemon:
            daemon.start()
            socks = [_sse(daemon.port, daemon.token) for _ in range(clients)]
            assert daemon.proc is not None
            t0 = time.monotonic()
            daemon.proc.send_signal(signal.SIGTERM)
            daemon.proc.wait(30)
            seconds.append(time.monotonic() - t0)
            for sock in socks:
                sock.close()
    return {"runs": runs, "clients": clients, "p50_s": round(percentile(seconds, 50), 3),
            "max_s": round(max(seconds), 3)}


def hook_memory(work: Path, backend: str, *, posts: int, rounds: int) -> dict[str, Any]:
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    events = ["UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "Notification"]

    def post(n: int) -> int:
        body = {"session_id": f"burst-{n % 8}", "cwd": "/bench/app",
                "hook_event_name": events[n % len(events)], "prompt": f"#{n}", "tool_name": "Bash",
                "tool_input": {"command": f"echo {n}"}}
        status, _ = daemon.request("POST", "/hooks/claude", body, headers={
            "Host": f"127.0.0.1:{daemon.port}", "Authorization": f"Bearer {daemon.token}",
            "Content-Type": "application/json"})
        return status

    with daemon:
        daemon.start()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(post, range(posts)))  # warm-up: buffers, caches
            before = daemon.sample().rss_kb
            for _ in range(rounds):
                statuses = set(pool.map(post, range(posts)))
            after = daemon.sample().rss_kb
    return {"posts": posts, "rounds": rounds, "statuses": sorted(statuses),
            "rss_before_mb": round(before / 1024, 1), "growth_kb": after - before}


def huge_transcript(work: Path, backend: str, *, size_mb: int) -> dict[str, Any]:
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    sid = str(uuid.uuid4())
    path = daemon.claude_projects / "-bench-huge" / f"{sid}.jsonl"

    def line(kind: str, **fields: Any) -> str:
        return json.dumps({"type": kind, "uuid": str(uuid.uuid4()), "parentUuid": None, "sessionId": sid,
                           "cwd": "/bench/huge", "timestamp": _now(), **fields}, separators=(",", ":"))

    with daemon:
        daemon.start()
        path.parent.mkdir(parents=True)
        path.write_text(line("user", message={"role": "user", "content": "build"}) + "\n" + line(
            "assistant", message={"id": "m1", "role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "make"}}]}) + "\n")
        time.sleep(1.0)
        before = daemon.sample().rss_kb
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], daemon.sample().rss_kb)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        block = "".join(line("progress", parentToolUseID="t1", toolUseID="bash-progress-0",
                             data={"type": "bash_progress", "output": "x" * 1900}) + "\n"
                        for _ in range(2000)).encode()
        lines = 0
        t0 = time.monotonic()
        with path.open("ab") as fh:
            while lines * len(block) / 2000 < size_mb * 2**20:
                fh.write(block)
                lines += 2000
        target = lines
        while _lines_read(daemon) < target and time.monotonic() - t0 < 600:
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        done.set()
        sampler.join()
    return {"size_mb": size_mb, "lines": lines, "rss_before_mb": round(before / 1024, 1),
            "peak_growth_mb": round((peak[0] - before) / 1024, 1), "seconds": round(seconds, 1)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lines_read(daemon: Daemon) -> int:
    _, body = daemon.request("GET", "/metrics", headers={"Host": f"127.0.0.1:{daemon.port}",
                                                             "Authorization": f"Bearer {daemon.token}"})
    for row in body.decode().splitlines():
        if row.startswith("sessiond_lines_read_total"):
            return int(float(row.split()[1]))
    return 0


def run(work: Path, backend: str, *, runs: int, clients: int, posts: int, rounds: int, size_mb: int
        ) -> dict[str, Any]:
    return {"shutdown": shutdown(work, backend, runs=runs, clients=clients),
            "hook_memory": hook_memory(work, backend, posts=posts, rounds=rounds),
            "huge": huge_transcript(work, backend, size_mb=size_mb)}

