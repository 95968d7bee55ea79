"""File → SSE latency with 1…N clients, memory per client, and bursts.

The writer appends status-changing lines (a prompt: → working; a reply ending the turn:
→ waiting_for_input) to a handful of sessions in turn, with random gaps, and notes
`time.monotonic_ns()` before each write; every client notes when each transition's bytes
arrived. Latency = arrival − write, for every (append, client) pair.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import transcript
from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.stats import Expected, match, slowest_per_line, summary_ms

SESSIONS = 10


def write_turns(sessions: list[transcript.Session], appends: int, rng: random.Random,
                gap: tuple[float, float]) -> Expected:
    """Status-changing lines to the sessions in turn (a prompt: working; a reply ending the
    turn: waiting for input), a random gap apart; what each should become, and when written."""
    expected: Expected = {}
    for i in range(appends):
        s = sessions[i % len(sessions)]
        k = i // len(sessions) + 1
        if k % 2:
            at = s.append(s.prompt(f"step {k}: make the change"))
            expected[(s.session_id, s.last_ts)] = ("working", at)
        else:
            at = s.append(s.reply(f"step {k} done."))
            expected[(s.session_id, s.last_ts)] = ("waiting_for_input", at)
        time.sleep(rng.uniform(*gap))
    return expected


def file_to_sse(work: Path, backend: str, *, clients: int, appends: int,
                gap: tuple[float, float] = (0.04, 0.12), per_worker: int = 500) -> dict[str, Any]:
    rng = random.Random(clients)
    appends -= appends % (2 * SESSIONS)  # every session ends where it began
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    sessions = transcript.make_sessions(daemon.claude_projects, SESSIONS)
    with daemon:
        daemon.start()
        time.sleep(0.5)
        rss_before = daemon.sample().rss_kb
        with ClientPool(daemon.port, daemon.token, clients, per_worker=per_worker) as pool:
            time.sleep(1.0)
            rss_connected = daemon.sample().rss_kb
            expected = write_turns(sessions, appends, rng, gap)
            time.sleep(1.0 + clients / 500)
            per, lost = pool.collect()
            rss_after = daemon.sample().rss_kb
    deliveries, wrong = match(expected, per)
    all_ns = [ns for _, ns in deliveries]
    last_ns = slowest_per_line(deliveries)
    return {
        "clients": clients,
        "connected": pool.connected,
        "appends": appends,
        **summary_ms(all_ns),
        "last_client": summary_ms(last_ns),
        "expected": appends * clients,
        "received": len(all_ns),
        "wrong": wrong,
        "lost_connections": lost,
        "rss_kb": {"before": rss_before, "connected": rss_connected, "after": rss_after},
        "kb_per_client": round((rss_connected - rss_before) / clients, 2),
        "kb_per_client_after_events": round((rss_after - rss_before) / clients, 2),
    }


def bursts(work: Path, backend: str, *, count: int, seconds: float,
           every: float = 0.05) -> dict[str, Any]:
    """A busy session writes a line every 50 ms, then ends its turn: last line → transition."""
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    (s,) = transcript.make_sessions(daemon.claude_projects, 1, prefix="burst")
    results: list[int] = []
    with daemon:
        daemon.start()
        with ClientPool(daemon.port, daemon.token, 1, stream=True) as pool:
            for b in range(count):
                s.append(s.prompt(f"burst {b}"))
                if pool.wait_transition(s.session_id, "working", 5) is None:
                    raise RuntimeError("the burst's prompt never showed as working")
                lines = int(seconds / every)
                start = time.monotonic()
                for n in range(lines):
                    s.append(s.read_call(n) if n % 2 == 0 else s.read_result(n))
                    time.sleep(max(0.0, start + (n + 1) * every - time.monotonic()))
                at = s.append(s.reply(f"burst {b} done."))
                rec = pool.wait_transition(s.session_id, "waiting_for_input", 5)
                if rec is None:
                    raise RuntimeError("the end of a burst never showed")
                results.append(rec[4] - at)
                time.sleep(0.2)
    return {"bursts": count, "seconds": seconds, "line_every_s": every, **summary_ms(results)}
