"""What the kernel says about a process: CPU time, wakeups, memory, bytes read (Linux /proc)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.monotonic()
    cpu_s: float  # utime + stime of every thread, live or exited (/proc/<pid>/stat)
    wakeups: int  # context switches of the live threads (voluntary + involuntary)
    rss_kb: int
    hwm_kb: int  # peak RSS
    rchar: int  # bytes asked of read() and friends, page cache included


def sample(pid: int) -> Sample:
    proc = Path(f"/proc/{pid}")
    stat = (proc / "stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    status = _status(proc / "status")
    wakeups = 0
    for task in (proc / "task").iterdir():
        try:
            ts = _status(task / "status")
        except OSError:
            continue  # the thread exited meanwhile
        wakeups += ts.get("voluntary_ctxt_switches", 0) + ts.get("nonvoluntary_ctxt_switches", 0)
    rchar = 0
    try:
        for line in (proc / "io").read_text().splitlines():
            if line.startswith("rchar:"):
                rchar = int(line.split()[1])
    except OSError:
        pass
    return Sample(time.monotonic(), cpu, wakeups, status.get("VmRSS", 0), status.get("VmHWM", 0), rchar)


def _status(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0])
    return out


def cpu_percent(before: Sample, after: Sample) -> float:
    """CPU used between two samples, as a percentage of one core."""
    return 100.0 * (after.cpu_s - before.cpu_s) / max(after.at - before.at, 1e-9)


def wakeups_per_s(before: Sample, after: Sample) -> float:
    return (after.wakeups - before.wakeups) / max(after.at - before.at, 1e-9)


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))
