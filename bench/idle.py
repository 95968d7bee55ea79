"""Idle cost: quiet sessions and connected clients, nothing written for a minute."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench import transcript
from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.procstat import cpu_percent, wakeups_per_s


def run(work: Path, backend: str, *, sessions: int, clients: int, seconds: float,
        settle: float = 5.0, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend, settings=settings or {})
    transcript.make_sessions(daemon.claude_projects, sessions, prefix="idle")
    with daemon:
        daemon.start()
        with ClientPool(daemon.port, daemon.token, clients):
            time.sleep(settle)  # start-up work done
            before = daemon.sample()
            time.sleep(seconds)
            after = daemon.sample()
    return {
        "sessions": sessions,
        "clients": clients,
        "seconds": seconds,
        "cpu_percent": round(cpu_percent(before, after), 3),
        "cpu_ms": round((after.cpu_s - before.cpu_s) * 1000, 1),
        "wakeups_per_s": round(wakeups_per_s(before, after), 2),
        "rss_mb": round(after.rss_kb / 1024, 1),
    }
