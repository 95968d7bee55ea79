"""`python -m bench [--smoke] [--only NAME,...] [--backend auto|inotify|watchfiles]`.

Runs the scenarios of issue 9 against the real daemon, prints each figure beside its
target and writes everything to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import (
    accuracy,
    bus,
    decisions,
    hooks,
    idle,
    latency,
    load,
    opencode,
    profile,
    shutdown,
    startup,
    terminals,
)
from bench.procstat import load_average
from bench.report import Row, rows_for, table

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("latency", "hooks", "decisions", "startup", "load", "idle", "bursts", "terminals", "bus",
             "opencode", "accuracy", "shutdown")


@dataclass(frozen=True)
class Sizes:
    appends: int = 500
    client_counts: tuple[int, ...] = (1, 100, 1000)
    hook_samples: int = 200
    decision_samples: int = 200
    startup_files: int = 5000
    startup_bytes: int = 2 * 2**30 + 2**26  # a little over 2 GB
    startup_runs: int = 5
    load_sessions: int = 200
    load_rate: int = 20
    load_seconds: float = 60.0  # after a 3 s warm-up
    idle_sessions: int = 500
    idle_clients: int = 10
    idle_seconds: float = 60.0
    bursts: int = 10
    burst_seconds: float = 2.0
    terminal_agents: int = 50
    other_processes: int = 2000
    discovery_refreshes: int = 20
    focus_samples: int = 200
    bus_appends: int = 500
    bus_machines: int = 50
    bus_sessions: int = 40
    bus_period: float = 4.0
    bus_seconds: float = 30.0
    opencode_samples: int = 200
    opencode_sessions: int = 2000


SMOKE = Sizes(
    appends=20, client_counts=(1, 5, 20), hook_samples=5, decision_samples=5, startup_files=40,
    startup_bytes=8 * 2**20, startup_runs=1, load_sessions=10, load_rate=10, load_seconds=3.0,
    idle_sessions=20, idle_clients=2, idle_seconds=3.0, bursts=1, burst_seconds=1.0,
    terminal_agents=5, other_processes=50, discovery_refreshes=3, focus_samples=5,
    bus_appends=20, bus_machines=2, bus_sessions=5, bus_period=1.0, bus_seconds=3.0,
    opencode_samples=5, opencode_sessions=20,
)


def run(name: str, sizes: Sizes, work: Path, backend: str, cache: Path) -> Any:
    if name == "latency":
        return [latency.file_to_sse(work, backend, clients=n, appends=sizes.appends)
                for n in sizes.client_counts]
    if name == "hooks":
        return hooks.run(work, backend, samples=sizes.hook_samples)
    if name == "decisions":
        return decisions.run(work, backend, samples=sizes.decision_samples)
    if name == "startup":
        return startup.run(work, backend, files=sizes.startup_files, total_bytes=sizes.startup_bytes,
                           runs=sizes.startup_runs, cache=cache)
    if name == "load":
        return load.run(work, backend, sessions=sizes.load_sessions, rate=sizes.load_rate,
                        seconds=sizes.load_seconds, warmup=1.0 if sizes.load_seconds < 10 else 3.0)
    if name == "idle":
        return idle.run(work, backend, sessions=sizes.idle_sessions, clients=sizes.idle_clients,
                        seconds=sizes.idle_seconds, settle=2.0 if sizes.idle_seconds < 10 else 5.0)
    if name == "bursts":
        return latency.bursts(work, backend, count=sizes.bursts, seconds=sizes.burst_seconds)
    if name == "shutdown":
        small = sizes.hook_samples < 50
        return shutdown.run(work, backend, runs=2 if small else 5, clients=5 if small else 100,
                            posts=100 if small else 1000, rounds=1 if small else 2,
                            size_mb=16 if small else 1024)
    if name == "accuracy":
        return accuracy.run()  # the whole corpus, smoke or not: it takes about a second
    if name == "bus":
        return bus.run(work, backend, appends=sizes.bus_appends, machines=sizes.bus_machines,
                       sessions=sizes.bus_sessions, period=sizes.bus_period, seconds=sizes.bus_seconds)
    if name == "opencode":
        return opencode.run(work, backend, samples=sizes.opencode_samples, sessions=sizes.opencode_sessions)
    if name == "terminals":
        return terminals.run(work, backend, agents=sizes.terminal_agents, others=sizes.other_processes,
                             refreshes=sizes.discovery_refreshes, samples=sizes.focus_samples)
    raise ValueError(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no thresholds (CI)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios (default: all of {','.join(SCENARIOS)})")
    parser.add_argument("--backend", default="auto", choices=("auto", "inotify", "watchfiles"))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sessiond-bench-cache",
                        help="where the generated start-up transcripts are kept between runs")
    parser.add_argument("--clients", default=None,
                        help="client counts for the latency scenario (default: 1,100,1000)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="sample the daemon with py-spy during load (needs py-spy installed)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    sizes = SMOKE if args.smoke else Sizes()
    if args.clients:
        sizes = replace(sizes, client_counts=tuple(int(n) for n in args.clients.split(",")))
    profile.PROFILE_DIR = args.profile
    started = time.time()
    meta: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "smoke": args.smoke,
        "backend": args.backend,
        "sizes": asdict(sizes),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0]},
        "load_average_before": load_average(),
    }
    results: dict[str, Any] = {}
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="sessiond-bench-"))
    try:
        for name in names:
            t0 = time.monotonic()
            print(f"[bench] {name} ...", flush=True)
            results[name] = run(name, sizes, work, args.backend, args.cache)
            print(f"[bench] {name} done in {time.monotonic() - t0:.1f} s, "
                  f"load {load_average()}", flush=True)
            rows += rows_for(name, results[name])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["load_average_after"] = load_average()
    meta["seconds"] = round(time.time() - started, 1)
    print()
    print(table(rows, thresholds=not args.smoke))
    print(f"\nload average before {meta['load_average_before']}, after {meta['load_average_after']}; "
          f"{meta['seconds']} s")
    out = args.out or RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**meta, "results": results, "rows": [asdict(r) for r in rows]},
                              indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
