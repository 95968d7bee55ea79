"""Hook → SSE latency: a Claude `PermissionRequest` POSTed to /hooks/claude → the transition.

Each sample opens a new connection, as Claude Code's hook (or its forwarder) does, and
times from just before connecting to the arrival of `waiting_for_approval`. The session
is then set working again (a `UserPromptSubmit` hook and a prompt line).
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import transcript
from bench.clients import ClientPool
from bench.daemon import Daemon
from bench.stats import summary_ms


def _post(port: int, token: str, payload: dict[str, Any]) -> tuple[int, int]:
    """POST a hook payload on a fresh connection: (time.monotonic_ns before, status)."""
    body = json.dumps(payload).encode()
    at = time.monotonic_ns()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/hooks/claude", body=body, headers={
            "Host": f"127.0.0.1:{port}", "Content-Type": "application/json",
            "Authorization": f"Bearer {token}"})
        status = conn.getresponse().status
    finally:
        conn.close()
    return at, status


def run(work: Path, backend: str, *, samples: int) -> dict[str, Any]:
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    (s,) = transcript.make_sessions(daemon.claude_projects, 1, prefix="hook")
    common = {"session_id": s.session_id, "transcript_path": str(s.path), "cwd": s.cwd,
              "permission_mode": "default"}
    latencies: list[int] = []
    statuses: set[int] = set()
    with daemon:
        daemon.start()
        token = daemon.token
        with ClientPool(daemon.port, daemon.token, 1, stream=True) as pool:
            s.append(s.prompt("run the tests"))
            if pool.wait_transition(s.session_id, "working", 5) is None:
                raise RuntimeError("the session never showed as working")
            for i in range(samples):
                s.append(s.read_call(i))  # keep the transcript moving like a real turn
                time.sleep(0.05)
                pool.drain()
                at, status = _post(daemon.port, token, {
                    **common, "hook_event_name": "PermissionRequest", "tool_name": "Bash",
                    "tool_input": {"command": f"rm -rf build-{i}"}})
                statuses.add(status)
                rec = pool.wait_transition(s.session_id, "waiting_for_approval", 2.0)
                if rec is None:
                    break
                latencies.append(rec[4] - at)
                _post(daemon.port, token, {**common, "hook_event_name": "UserPromptSubmit",
                                           "prompt": f"go on {i}"})
                s.append(s.prompt(f"go on {i}"))
                if pool.wait_transition(s.session_id, "working", 2.0) is None:
                    break
    if not latencies:
        return {"wired": False, "http_status": sorted(statuses), "samples": 0}
    return {"wired": True, "http_status": sorted(statuses), "samples": len(latencies),
            **summary_ms(latencies)}
