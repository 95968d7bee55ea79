"""Steady load: many sessions writing lines at a steady rate, for a minute.

Each session runs 1-second turns of `rate` lines: a prompt (→ working), `Read` calls and
their results (still working), a reply ending the turn (→ waiting_for_input) two thirds
of the way in, then bookkeeping lines while it waits (no change). The sessions' lines are
interleaved evenly. Measured: latency of every transition, daemon CPU over the writing
window, peak RSS, and transitions expected vs received.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procstat, transcript
from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.procstat import cpu_percent, wakeups_per_s
from bench.profile import sampling
from bench.stats import Expected, match, summary_ms


def _write(sessions: list[transcript.Session], rate: int, total: int, expected: Expected) -> float:
    """Write `total` lines at `rate` per session per second; returns how late the writer fell."""
    n = len(sessions)
    reply_at = rate * 2 // 3
    step = 1.0 / (rate * n)  # one line somewhere every `step` seconds
    start = time.monotonic()
    late = 0.0
    for g in range(total):
        wait = start + g * step - time.monotonic()
        if wait > 0.001:
            time.sleep(wait)
        else:
            late = max(late, -wait)
        s, j, turn = sessions[g % n], (g // n) % rate, g // n // rate
        if j == 0:
            at = s.append(s.prompt(f"turn {turn}"))
            expected[(s.session_id, s.last_ts)] = ("working", at)
        elif j == reply_at:
            at = s.append(s.reply(f"turn {turn} done."))
            expected[(s.session_id, s.last_ts)] = ("waiting_for_input", at)
        elif j < reply_at:
            s.append(s.read_call(j) if j % 2 else s.read_result(j))
        else:
            s.append(s.bookkeeping(f"turn {turn}"))
    return late


def run(work: Path, backend: str, *, sessions: int, rate: int, seconds: float,
        clients: int = 1, warmup: float = 3.0) -> dict[str, Any]:
    """`warmup` seconds of the same load come first and are not measured (the first
    turns pay for growing the heap, the database and the caches); drops count throughout."""
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    writers = transcript.make_sessions(daemon.claude_projects, sessions, prefix="load")
    total = int(seconds) * rate * sessions  # whole turns only
    warm: Expected = {}
    expected: Expected = {}
    with daemon:
        daemon.start()
        with ClientPool(daemon.port, daemon.token, clients) as pool:
            time.sleep(1.0)
            _write(writers, rate, int(warmup) * rate * sessions, warm)
            before = daemon.sample()
            with sampling(daemon.pid, "load"):
                late = _write(writers, rate, total, expected)
            after = daemon.sample()
            time.sleep(2.0)
            per, lost = pool.collect()
            final: procstat.Sample = daemon.sample()
    everything, wrong = match(expected | warm, per)
    measured = [ns for key, ns in everything if key in expected]
    warm_ns = [ns for key, ns in everything if key in warm]
    return {
        "sessions": sessions,
        "lines": total,
        "lines_per_s": round(total / (after.at - before.at), 1),
        "writer_max_late_ms": round(late * 1000, 1),
        **summary_ms(measured),
        "warmup_s": warmup,
        "warmup": summary_ms(warm_ns),
        "expected": (len(expected) + len(warm)) * clients,
        "received": len(everything),
        "dropped": (len(expected) + len(warm)) * clients - len(everything),
        "wrong": wrong,
        "lost_connections": lost,
        "cpu_percent": round(cpu_percent(before, after), 1),
        "wakeups_per_s": round(wakeups_per_s(before, after), 1),
        "peak_rss_mb": round(final.hwm_kb / 1024, 1),
    }
