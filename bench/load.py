"""Steady load: many sessions writing lines at a steady rate, for a minute.

Each session runs 1-second turns of `rate` lines: a prompt (→ working), `Read` calls and
their results (still working), and a reply ending the turn (→ waiting_for_input). The
sessions' lines are interleaved evenly. Measured: latency of every transition, daemon
CPU over the writing window, peak RSS, and transitions expected vs received.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench import transcript
from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.procstat import cpu_percent, wakeups_per_s
from bench.stats import summary_ms


def run(work: Path, backend: str, *, sessions: int, rate: int, seconds: float,
        clients: int = 1) -> dict[str, Any]:
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    writers = transcript.make_sessions(daemon.claude_projects, sessions, prefix="load")
    total = int(seconds * rate) * sessions
    total -= total % (rate * sessions)  # whole turns only
    expected: dict[tuple[str, int], tuple[str, int]] = {}
    turns = [0] * sessions
    with daemon:
        daemon.start()
        with ClientPool(daemon.port, clients) as pool:
            time.sleep(1.0)
            before = daemon.sample()
            start = time.monotonic()
            step = 1.0 / (rate * sessions)  # one line somewhere every `step` seconds
            late = 0.0
            for g in range(total):
                due = start + g * step
                wait = due - time.monotonic()
                if wait > 0.001:
                    time.sleep(wait)
                else:
                    late = max(late, -wait)
                i, j = g % sessions, (g // sessions) % rate
                s = writers[i]
                if j == 0:
                    at = s.append(s.prompt(f"turn {turns[i]}"))
                    turns[i] += 1
                    expected[(s.session_id, 2 * turns[i] - 1)] = ("working", at)
                elif j == rate - 1:
                    at = s.append(s.reply(f"turn {turns[i]} done."))
                    expected[(s.session_id, 2 * turns[i])] = ("waiting_for_input", at)
                else:
                    s.append(s.read_call(j) if j % 2 else s.read_result(j))
            written_in = time.monotonic() - start
            after = daemon.sample()
            time.sleep(2.0)
            per, lost = pool.collect()
            final = daemon.sample()
    latencies: list[int] = []
    wrong = 0
    for records in per:
        for sid, k, to, _source, received in records:
            want = expected.get((sid, k))
            if want is None or want[0] != to:
                wrong += 1
            else:
                latencies.append(received - want[1])
    return {
        "sessions": sessions,
        "lines": total,
        "lines_per_s": round(total / written_in, 1),
        "writer_max_late_ms": round(late * 1000, 1),
        **summary_ms(latencies),
        "expected": len(expected) * clients,
        "received": len(latencies),
        "dropped": len(expected) * clients - len(latencies),
        "wrong": wrong,
        "lost_connections": lost,
        "cpu_percent": round(cpu_percent(before, after), 1),
        "wakeups_per_s": round(wakeups_per_s(before, after), 1),
        "peak_rss_mb": round(final.hwm_kb / 1024, 1),
    }
