"""Jump to the agent: what finding terminals costs, and how fast a focus lands.

- **discovery**: `agents` processes named `claude` (each in its own folder, each the
  writer of a live session) among `others` unrelated processes; one refresh is what the
  daemon does on a session's start or a miss: read the process table
  (`ProcessTable.scan`), match sessions to processes (`matching.assign`) and place each
  in its terminal (`locate`). Measured in this process, as CPU time per refresh: the
  first (cold: every process's name read) apart from the steady state.
- **focus**: the real daemon, a real tmux server on a private socket and a stand-in
  `claude` in a pane (the tests' own, tests/standin/claude); another window is made
  active, then `POST /api/sessions/{id}/focus`; the time until the pane is the active
  one (checked with `tmux display`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.daemon import Daemon
from bench.stats import percentile, summary_ms

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "tests" / "standin" / "claude"


def discovery(work: Path, *, agents: int, others: int, refreshes: int) -> dict[str, Any]:
    from sessiond.sources import plugins
    from sessiond.terminals import locate, matching, processes

    names = {p.agent: p.process_names for p in plugins().values()}
    display = {p.agent: p.display_name for p in plugins().values()}
    folder = Path(tempfile.mkdtemp(dir=work))
    sleep = shutil.which("sleep") or "/bin/sleep"
    claude = folder / "claude"  # `sleep` under the agent's name: its comm is "claude"
    claude.symlink_to(sleep)
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(others):
            spawned.append(subprocess.Popen([sleep, "3600"], stdin=subprocess.DEVNULL))
        wanted = []
        for n in range(agents):
            cwd = folder / f"project-{n}"
            cwd.mkdir()
            spawned.append(subprocess.Popen([str(claude), "3600"], cwd=cwd, stdin=subprocess.DEVNULL))
            wanted.append(matching.WantedSession(f"s{n}", "claude", str(cwd), time.time() + 60))
        # Older than ProcessTable.SETTLED_S, as a machine's processes mostly are.
        time.sleep(processes.ProcessTable.SETTLED_S + 0.5)
        cpu: list[float] = []
        found = assigned = 0
        table = processes.ProcessTable(names)
        for _ in range(refreshes + 1):  # the first is the cold read of every process
            t0 = time.process_time()
            facts = table.scan()
            result = matching.assign(wanted, [f.process for f in facts], display)
            for one in facts:
                locate.locate(one, "Linux")
            cpu.append((time.process_time() - t0) * 1000)
            found = len(facts)
            assigned = sum(1 for a in result.values() if a.pid is not None)
        total = len(list(os.scandir("/proc")))
        return {"agents": agents, "others": others, "processes_on_machine": total,
                "agents_found": found, "sessions_matched": assigned, "refreshes": refreshes,
                "cold_cpu_ms": round(cpu[0], 2), "cpu_ms_p50": round(percentile(cpu[1:], 50), 2),
                "cpu_ms_max": round(max(cpu[1:]), 2)}
    finally:
        for proc in spawned:
            proc.kill()
        for proc in spawned:
            proc.wait()


def focus(work: Path, backend: str, *, samples: int) -> dict[str, Any]:
    if shutil.which("tmux") is None:
        return {"samples": 0, "note": "tmux is not installed"}
    socket = f"/tmp/sessiond-bench-{uuid.uuid4().hex[:8]}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-S", socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()

    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    latencies: list[int] = []
    with daemon:
        daemon.start()
        cwd = daemon.workdir / "app"
        cwd.mkdir()
        sid = str(uuid.uuid4())
        tmux("new-session", "-d", "-s", "main", "-x", "120", "-y", "30")
        try:
            pane = tmux("new-window", "-P", "-F", "#{pane_id}", "-c", str(cwd), " ".join(
                [sys.executable, str(STANDIN), str(daemon.claude_projects), sid, str(cwd / "typed.txt")]))
            headers = {"Host": f"127.0.0.1:{daemon.port}", "Authorization": f"Bearer {daemon.token}",
                       "Content-Type": "application/json"}

            def terminal_known() -> bool:
                status, body = daemon.request("GET", f"/api/sessions/{sid}", headers=headers)
                return status == 200 and bool(json.loads(body).get("terminal"))

            deadline = time.monotonic() + 30
            while not terminal_known():
                if time.monotonic() > deadline:
                    return {"samples": 0, "note": "the stand-in's terminal was never found"}
                time.sleep(0.05)
            for _ in range(samples):
                tmux("select-window", "-t", "main:0")
                t0 = time.monotonic_ns()
                status, _ = daemon.request("POST", f"/api/sessions/{sid}/focus", {}, headers=headers)
                while tmux("display-message", "-p", "-t", pane, "#{window_active}") != "1":
                    pass
                latencies.append(time.monotonic_ns() - t0)
                if status != 200:
                    return {"samples": 0, "note": f"focus answered HTTP {status}"}
        finally:
            subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, timeout=10)
            Path(socket).unlink(missing_ok=True)
    return {"samples": len(latencies), **summary_ms(latencies)}


def run(work: Path, backend: str, *, agents: int, others: int, refreshes: int, samples: int
        ) -> dict[str, Any]:
    return {"discovery": discovery(work, agents=agents, others=others, refreshes=refreshes),
            "focus": focus(work, backend, samples=samples)}
