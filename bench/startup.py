"""Start-up: launch → /health ok → first snapshot, with thousands of large transcripts."""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import corpus
from bench.daemon import Daemon


def first_snapshot(port: int, token: str, timeout: float = 60.0) -> tuple[float, int]:
    """Connect to /events and read until the snapshot frame is complete: (when, sessions)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
        data = bytearray()
        while time.monotonic() < deadline:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            at = data.find(b"event: snapshot\n")
            if at >= 0 and data.find(b"\n\n", at) >= 0:
                return time.monotonic(), data.count(b'"agent":"claude"')
    raise TimeoutError("no snapshot")


def run(work: Path, backend: str, *, files: int, total_bytes: int, runs: int,
        cache: Path) -> dict[str, Any]:
    projects, written = corpus.ensure(cache / f"{files}-{total_bytes}", files, total_bytes)
    launches: list[dict[str, float]] = []
    for _ in range(runs):
        corpus.touch(projects)
        with Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend,
                    claude_dir=projects.parent) as daemon:
            launched = daemon.launch()
            healthy = daemon.wait_healthy(poll=0.002)
            snapshot, sessions = first_snapshot(daemon.port, daemon.token)
            read = daemon.sample().rchar
            launches.append({
                "health_s": round(healthy - launched, 3),
                "snapshot_s": round(snapshot - launched, 3),
                "sessions": sessions,
                "read_mb": round(read / 2**20, 1),
            })
    return {
        "files": files,
        "bytes": written,
        "runs": launches,
        "health_s": statistics.median(r["health_s"] for r in launches),
        "snapshot_s": statistics.median(r["snapshot_s"] for r in launches),
        "read_fraction": round(max(r["read_mb"] for r in launches) * 2**20 / written, 4),
    }
