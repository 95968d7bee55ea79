"""Decision → agent: how long from `POST /api/sessions/{id}/decision` (as the panel, a
toast or `sessiond approve` sends it) until the agent's held `PermissionRequest` hook has
its answer. Each sample is its own session holding one request, as Claude Code does.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.daemon import Daemon
from bench.stats import summary_ms


def _call(port: int, token: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}",
                   "Content-Type": "application/json"}
        conn.request("POST" if body is not None else "GET", path,
                     body=json.dumps(body).encode() if body is not None else None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run(work: Path, backend: str, *, samples: int) -> dict[str, Any]:
    daemon = Daemon(Path(tempfile.mkdtemp(dir=work)), backend=backend)
    latencies: list[int] = []
    wrong = 0
    with daemon:
        daemon.start()
        port, token = daemon.port, daemon.token
        for i in range(samples):
            sid = f"{i:08d}-de15-4000-8000-000000000000"
            common = {"session_id": sid, "cwd": "/bench/app"}
            _call(port, token, "/hooks/claude", {**common, "hook_event_name": "UserPromptSubmit",
                                                 "prompt": "clean up"})
            answered: dict[str, int] = {}

            def ask(sid: str = sid, common: dict[str, Any] = common,
                    answered: dict[str, int] = answered) -> None:
                status, body = _call(port, token, "/hooks/claude?hold=60", {
                    **common, "hook_event_name": "PermissionRequest", "tool_name": "Bash",
                    "tool_input": {"command": f"rm -rf build-{sid[:8]}"}})
                answered["at"] = time.monotonic_ns()
                answered["ok"] = int(status == 200 and b'"allow"' in body)

            waiting = threading.Thread(target=ask)
            waiting.start()
            decision = None
            for _ in range(2000):
                status, raw = _call(port, token, f"/api/sessions/{sid}")
                decision = json.loads(raw).get("decision") if status == 200 else None
                if decision:
                    break
                time.sleep(0.002)
            if decision is None:
                break
            at = time.monotonic_ns()
            _call(port, token, f"/api/sessions/{sid}/decision",
                  {"id": decision["id"], "behavior": "allow", "via": "api"})
            waiting.join(10)
            if "at" in answered:
                latencies.append(answered["at"] - at)
                wrong += 1 - answered["ok"]
    if not latencies:
        return {"samples": 0, "wrong": wrong}
    return {"samples": len(latencies), "wrong": wrong, **summary_ms(latencies)}
