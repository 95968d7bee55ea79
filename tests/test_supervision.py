"""Supervision inside (tasks, quarantine) and outside (`run --supervise`) the daemon."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sessiond.config import Config
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import EventHub
from sessiond.engine.outputs import Publisher
from sessiond.protocol import JSONDict
from sessiond.service.tasks import TaskSupervisor
from sessiond.sources.base import FileInfo, SessionMeta, Thresholds, Verdict
from sessiond.sources.claude.transcript import ClaudeSource

from tests.daemon_proc import make_daemon


async def test_a_failing_task_is_restarted_with_backoff() -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("boom")
        await asyncio.sleep(3600)

    tasks = TaskSupervisor(first_backoff=0.01)
    tasks.spawn("flaky", flaky)
    for _ in range(200):
        if len(runs) >= 3:
            break
        await asyncio.sleep(0.01)
    assert len(runs) == 3
    assert tasks.restarts["flaky"] == 2
    assert tasks.health["flaky"].status == "ok"
    await tasks.stop()


class BrokenState:
    """A classifier with a bug: it raises on every verdict."""

    def __init__(self) -> None:
        self.meta = SessionMeta()
        self.last_activity: datetime | None = None

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        self.last_activity = at

    def has_basis(self) -> bool:
        return True

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        raise ValueError("a bug in a classifier")


class BrokenSource(ClaudeSource):
    def new_state(self, info: FileInfo) -> Any:
        return BrokenState()


async def test_a_file_whose_classifier_keeps_failing_is_quarantined(tmp_path: Path) -> None:
    projects = tmp_path / "claude" / "projects"
    path = projects / "-p" / "s1.jsonl"
    path.parent.mkdir(parents=True)
    config = Config(state_dir=tmp_path / "state", env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude")})
    engine = Engine(config, Publisher(EventHub()), [BrokenSource()])
    engine.start()
    for i in range(5):
        with path.open("a") as fh:
            fh.write(json.dumps({"type": "user", "uuid": f"u{i}", "sessionId": "s1"}) + "\n")
        engine.file_changed(path)
    assert engine.quarantined() == {str(path): "its classifier failed repeatedly"}
    # Quarantined: no longer read, so no failure loop.
    with path.open("a") as fh:
        fh.write("{}\n")
    engine.file_changed(path)
    assert engine.files[path].failures == 3


def test_a_stale_runtime_file_from_a_crash_is_replaced(tmp_path: Path) -> None:
    proc = make_daemon(tmp_path / "d")
    proc.state_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (proc.state_dir / "runtime.json").write_text(json.dumps(
        {"pid": dead.pid, "port": 1, "url": "http://127.0.0.1:1", "version": "0", "started_at": "x"}))
    proc.start()  # the harness leaves the stale file in place; the daemon must replace it
    try:
        info = json.loads((proc.state_dir / "runtime.json").read_text())
        assert proc.proc is not None and info["pid"] == proc.proc.pid
        assert proc.get("/health")[0] == 200
    finally:
        proc.kill()


def _wait(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError("condition not met")


@pytest.mark.timeout(180)
def test_run_supervise_restarts_a_killed_or_hung_daemon(tmp_path: Path) -> None:
    """The real daemon under the real supervisor: kill -9, then SIGSTOP, the child."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = make_daemon(tmp_path / "d")
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "sessiond", "run", "--supervise", "--no-notify", "--port", str(port)],
            env=proc.env, stdout=out, stderr=subprocess.STDOUT,
        )
    proc.port = port
    runtime = proc.state_dir / "runtime.json"

    def healthy_pid() -> int | None:
        status, body = proc.get("/health")
        return int(body["pid"]) if status == 200 else None

    try:
        first = _wait(healthy_pid)
        os.kill(first, signal.SIGKILL)
        second = _wait(lambda: (p := healthy_pid()) and p != first and p)
        assert second != first
        # Until the supervisor has seen a new child answer, it allows a slow start-up;
        # let it see this one answer (it checks every 3 s), then hang it.
        _wait(lambda: f"answering /health pid={second}" in log.read_text())
        os.kill(second, signal.SIGSTOP)  # hung: answers nothing
        third = _wait(lambda: (p := healthy_pid()) and p not in (first, second) and p, timeout=60)
        assert third not in (first, second)
        assert json.loads(runtime.read_text())["pid"] == third
    finally:
        parent.send_signal(signal.SIGTERM)
        try:
            assert parent.wait(20) == 0
        finally:
            parent.kill()


async def test_health_is_503_while_the_watcher_is_down(tmp_path: Path) -> None:
    """A watcher that crashed is not running until its restart: /health says 503."""
    from aiohttp.test_utils import TestClient, TestServer
    from sessiond.protocol import ComponentHealth
    from sessiond.web.metrics import Metrics
    from sessiond.web.routes import Context, build_app

    tasks = TaskSupervisor(first_backoff=30.0)

    async def broken_watcher() -> None:
        raise OSError("inotify watch limit reached")

    tasks.spawn("watcher", broken_watcher)
    for _ in range(100):
        if tasks.health["watcher"].status == "failed":
            break
        await asyncio.sleep(0.01)
    config = Config(state_dir=tmp_path / "state")
    hub = EventHub()
    ctx = Context(config=config, engine=Engine(config, Publisher(hub), []), hub=hub, token="t" * 43,
                  metrics=Metrics(), components=lambda: {**tasks.health,
                                                         "server": ComponentHealth("ok")})
    async with TestClient(TestServer(build_app(ctx))) as client:
        ctx.port = client.port or 0
        resp = await client.get("/health", headers={"Host": f"127.0.0.1:{ctx.port}"})
        body = await resp.json()
    await tasks.stop()
    assert resp.status == 503
    assert body["status"] == "degraded"
    assert body["components"]["watcher"]["status"] == "failed"
    assert "inotify watch limit reached" in body["components"]["watcher"]["detail"]
    assert {"version", "pid", "uptime_s", "sessions", "clients", "last_event_id"} <= set(body)
