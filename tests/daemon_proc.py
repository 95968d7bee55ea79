"""Start the real daemon as a subprocess, on temporary agent roots and state dir.

Tests talk to it over real TCP; nothing inside it is mocked.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SETTINGS = """
[daemon]
approval_after_s = 0.5
settle_after_s = 0.3
"""
# The file watcher every daemon started here uses (None: the daemon's own default);
# tests/test_daemon_e2e.py runs once with each.
WATCH_BACKEND: str | None = None


def with_watch_backend(settings: str, backend: str | None) -> str:
    """`settings` with `watch_backend` added to its `[daemon]` table."""
    if backend is None:
        return settings
    line = f'watch_backend = "{backend}"'
    if "[daemon]" in settings:
        return settings.replace("[daemon]", f"[daemon]\n{line}", 1)
    return f"[daemon]\n{line}\n{settings}"


@dataclass
class DaemonProcess:
    root: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    # The interpreter that runs the daemon (a test of the built wheel uses its own venv).
    python: str = sys.executable
    log_path: Path | None = None
    # Run the daemon through this command (e.g. `setpriv ...` to drop capabilities).
    prefix: list[str] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return Path(self.env["SESSIOND_STATE_DIR"])

    @property
    def claude_projects(self) -> Path:
        return Path(self.env["CLAUDE_CONFIG_DIR"]) / "projects"

    @property
    def codex_sessions(self) -> Path:
        return Path(self.env["CODEX_HOME"]) / "sessions"

    @property
    def gemini_tmp(self) -> Path:
        return Path(self.env["GEMINI_CLI_HOME"]) / ".gemini" / "tmp"

    @property
    def cursor_projects(self) -> Path:
        return Path(self.env["CURSOR_HOME"]) / "projects"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.state_dir / "token").read_text().strip()

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> DaemonProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        # runtime.json is left as it is (a crashed daemon's stays): `wait_ready` waits for
        # the one this process writes.
        self.log_path = self.root / f"daemon-{int(time.time() * 1000)}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, self.python, "-m", "sessiond", "run", "--port", str(self.port),
                 *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        runtime = self.state_dir / "runtime.json"
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.output()}")
            if runtime.exists():
                try:
                    info = json.loads(runtime.read_text())
                    if info["pid"] != self.proc.pid:
                        time.sleep(0.02)  # an earlier daemon's file, not replaced yet
                        continue
                    self.port = int(info["port"])
                except (ValueError, KeyError, TypeError):
                    time.sleep(0.02)
                    continue
                status, _ = self.get("/health")
                if status == 200:
                    return
            time.sleep(0.02)
        raise TimeoutError(f"daemon not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
        *, auth: bool = True,
    ) -> tuple[int, Any]:
        """A request as the owner (with the token) unless `auth` is False."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Host", f"127.0.0.1:{self.port}")
        token_file = self.state_dir / "token"
        if auth and token_file.exists() and not any(k.lower() == "authorization" for k in headers or {}):
            req.add_header("Authorization", f"Bearer {token_file.read_text().strip()}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        except OSError:
            return 0, None
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def login_cookie(self) -> str:
        """The panel's cookie, as `GET /login?token=…` sets it (the redirect not followed)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", f"/login?token={urllib.parse.quote(self.token, safe='')}",
                         headers={"Host": f"127.0.0.1:{self.port}"})
            response = conn.getresponse()
            response.read()
            assert response.status == 303, response.status
            cookie = response.getheader("Set-Cookie") or ""
        finally:
            conn.close()
        name, _, rest = cookie.partition("=")
        assert name == "sessiond", cookie
        return rest.split(";", 1)[0]

    def sessions(self) -> dict[str, dict[str, Any]]:
        status, body = self.get("/api/sessions")
        assert status == 200, body
        return {s["id"]: s for s in body["sessions"]}

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def running(proc: DaemonProcess) -> Iterator[DaemonProcess]:
    """Start the daemon; kill it when the block ends, however it ends."""
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def make_daemon(
    root: Path, *, settings: str = DEFAULT_SETTINGS, extra_env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> DaemonProcess:
    """A daemon (not started) whose every directory lies under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.toml"
    config.write_text(with_watch_backend(settings, WATCH_BACKEND))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SESSIOND_", "CLAUDE_", "CODEX_", "GEMINI_", "CURSOR_", "COPILOT_", "OPENCODE_"))
        and k not in ("XDG_CONFIG_HOME", "XDG_DATA_HOME")
    }
    env.update(
        {
            "SESSIOND_STATE_DIR": str(root / "state"),
            "SESSIOND_CONFIG": str(config),
            "CLAUDE_CONFIG_DIR": str(root / "claude"),
            "CODEX_HOME": str(root / "codex"),
            "GEMINI_CLI_HOME": str(root / "gemini-home"),
            "CURSOR_HOME": str(root / "cursor"),
            "COPILOT_HOME": str(root / "copilot"),
            "OPENCODE_DATA_DIR": str(root / "opencode"),
            "HOME": str(root / "home"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    # No desktop in tests unless a test provides its own D-Bus session bus.
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env.update(extra_env or {})
    # Toasts need a D-Bus session bus; tests that want them pass their own args.
    return DaemonProcess(root=root, env=env, args=list(args if args is not None else ["--no-notify"]))
