"""Percentiles without numpy, and pairing received transitions with the lines written."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values_ns: Sequence[int]) -> dict[str, float]:
    """p50 / p99 / max / n of durations given in nanoseconds, in milliseconds."""
    ms = [v / 1e6 for v in values_ns]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


# (session id, timestamp of the line written) -> (status expected, time.monotonic_ns of the write)
Expected = dict[tuple[str, str], tuple[str, int]]


Delivery = tuple[tuple[str, str], int]  # (the line's key in Expected, latency in ns)


def match(expected: Expected, per_worker: list[list[tuple[str, int, str, str, int, str]]]
          ) -> tuple[list[Delivery], int]:
    """Pair each received transition with the line that made it.

    A transition's `at` is the time of the last line its status rests on: the
    status-changing line itself, or (when the daemon read several lines at once) a later
    line of the same status. So the line that made it is the last status-changing line
    written to that session at or before `at`, and it must be for that status. Returns
    every delivery, and how many transitions matched no line written.
    """
    by_session: dict[str, list[tuple[str, str, int]]] = {}
    for (sid, ts), (to, written) in expected.items():
        by_session.setdefault(sid, []).append((ts, to, written))
    for lines in by_session.values():
        lines.sort()
    deliveries: list[Delivery] = []
    wrong = 0
    for records in per_worker:
        for sid, _k, to, _source, received, at in records:
            lines = by_session.get(sid, [])
            i = bisect.bisect_right(lines, (at, "\uffff"))
            if i == 0 or lines[i - 1][1] != to:
                wrong += 1
                continue
            ts, _, written = lines[i - 1]
            deliveries.append(((sid, ts), received - written))
    return deliveries, wrong


def slowest_per_line(deliveries: list[Delivery]) -> list[int]:
    """For each line, the latency of the last client to get its transition."""
    last: dict[tuple[str, str], int] = {}
    for key, latency in deliveries:
        last[key] = max(last.get(key, 0), latency)
    return list(last.values())
