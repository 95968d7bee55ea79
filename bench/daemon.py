"""The real daemon as a subprocess, on a temporary state dir and agent roots."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procstat


@dataclass
class Daemon:
    """One `sessiond run` whose every directory lies under `workdir`."""

    workdir: Path
    backend: str = "inotify"
    # Claude's root (CLAUDE_CONFIG_DIR); defaults to `workdir/claude`.
    claude_dir: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # More environment (SESSIOND_BUS, SESSIOND_NAME) and arguments (`--no-watch`).
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    launched_at: float = 0.0

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    @property
    def claude_projects(self) -> Path:
        return (self.claude_dir or self.workdir / "claude") / "projects"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def token(self) -> str:
        return (self.state_dir / "token").read_text().strip()

    @property
    def log_path(self) -> Path:
        return self.workdir / "daemon.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SESSIOND_", "CLAUDE_", "CODEX_", "GEMINI_", "CURSOR_", "COPILOT_"))
               and k not in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")}
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env.pop("NOTIFY_SOCKET", None)
        # Cache bytecode as an installed package would have it (start-up is measured).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update({
            "SESSIOND_STATE_DIR": str(self.state_dir),
            "SESSIOND_CONFIG": str(self.workdir / "config.toml"),
            "CLAUDE_CONFIG_DIR": str(self.claude_dir or self.workdir / "claude"),
            "CODEX_HOME": str(self.workdir / "codex"),
            "GEMINI_CLI_HOME": str(self.workdir / "gemini-home"),
            "CURSOR_HOME": str(self.workdir / "cursor"),
            "COPILOT_HOME": str(self.workdir / "copilot"),
            "HOME": str(self.workdir / "home"),
        })
        env.update(self.extra_env)
        return env

    def write_config(self) -> None:
        lines = ["[daemon]", f'watch_backend = "{self.backend}"', "max_sse_clients = 2000"]
        for key, value in self.settings.items():
            lines.append(f"{key} = {json.dumps(value)}")
        (self.workdir / "config.toml").write_text("\n".join(lines) + "\n")

    def launch(self) -> float:
        """Start the process; returns the launch time (time.monotonic)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.claude_projects.mkdir(parents=True, exist_ok=True)
        self.write_config()
        (self.state_dir / "runtime.json").unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.launched_at = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sessiond", "run", "--no-notify", "--port", "0", *self.extra_args],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            )
        return self.launched_at

    def wait_healthy(self, timeout: float = 60.0, poll: float = 0.005) -> float:
        """Wait for /health to answer 200; returns when it did (time.monotonic)."""
        deadline = time.monotonic() + timeout
        runtime = self.state_dir / "runtime.json"
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}; see {self.log_path}")
            if not self.port:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    self.port = int(json.loads(runtime.read_text())["port"])
            if self.port and self.request("GET", "/health")[0] == 200:
                return time.monotonic()
            time.sleep(poll)
        raise TimeoutError(f"daemon not healthy after {timeout} s; see {self.log_path}")

    def start(self) -> Daemon:
        self.launch()
        self.wait_healthy()
        return self

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        except OSError:
            return 0, b""
        finally:
            conn.close()

    def sample(self) -> procstat.Sample:
        return procstat.sample(self.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
