"""The real OpenCode for tests: `opencode serve` (opencode-ai 1.18.33 from npm, which
scripts/test installs into .agents/) with a scripted model (tests/standin/fake_model.py),
in private XDG folders. Sessions are driven through OpenCode's own HTTP API, as its TUI
and web client drive them: create a session, send a prompt, answer a permission.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.redis_server import free_port

REPO = Path(__file__).resolve().parent.parent
VERSION = "1.18.33"


def opencode_binary() -> str:
    """Where scripts/test put it (or SESSIOND_TEST_OPENCODE, or `opencode` on PATH)."""
    for candidate in (
        os.environ.get("SESSIOND_TEST_OPENCODE", ""),
        str(REPO / ".agents/node_modules/.bin/opencode"),
        shutil.which("opencode") or "",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        f"OpenCode is not installed: run scripts/test, or npm install --prefix .agents opencode-ai@{VERSION}"
    )


class RealOpenCode:
    def __init__(self, root: Path, command: str, *, cache: Path, bash: str = "ask") -> None:
        self.root = root
        self.project = root / "acme-api"
        self.project.mkdir(parents=True, exist_ok=True)
        self.model_port, self.port = free_port(), free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OPENCODE", "XDG_"))},
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_STATE_HOME": str(root / "state"),
            # Shared between tests: OpenCode installs its provider package there once.
            "XDG_CACHE_HOME": str(cache),
        }
        (self.project / "opencode.json").write_text(
            json.dumps(
                {
                    "$schema": "https://opencode.ai/config.json",
                    "provider": {
                        "scripted": {
                            "npm": "@ai-sdk/openai-compatible",
                            "name": "Scripted",
                            "options": {
                                "baseURL": f"http://127.0.0.1:{self.model_port}/v1",
                                "apiKey": "none",
                            },
                            "models": {"m": {"name": "Scripted model"}},
                        }
                    },
                    "model": "scripted/m",
                    "permission": {"bash": bash},
                }
            )
        )
        self.command = command
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / "opencode"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def start_model(self) -> None:
        model = [sys.executable, str(REPO / "tests/standin/fake_model.py"), str(self.model_port),
                 self.command]
        with (self.root / "model.log").open("ab") as log:  # the child keeps its own copy
            self.procs.append(subprocess.Popen(model, stdout=log, stderr=subprocess.STDOUT))

    def tui(self) -> list[str]:
        """The command that runs OpenCode's own terminal UI, in its private folders."""
        names = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
        return ["env", *(f"{k}={self.env[k]}" for k in names), opencode_binary()]

    def start(self) -> RealOpenCode:
        self.start_model()
        with (self.root / "opencode.log").open("ab") as log:  # the children keep their own copy
            self.procs.append(
                subprocess.Popen(
                    [opencode_binary(), "serve", "--port", str(self.port), "--hostname", "127.0.0.1"],
                    cwd=self.project,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.api("GET", "/session")
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"opencode serve did not start; see {self.root / 'opencode.log'}")

    @property
    def pid(self) -> int:
        return self.procs[-1].pid

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def new_session(self) -> str:
        return str(self.api("POST", "/session", {})["id"])

    def prompt(self, sid: str, words: str) -> None:
        self.api("POST", f"/session/{sid}/prompt_async", {"parts": [{"type": "text", "text": words}]})

    def permissions(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/permission"))

    def reply(self, request_id: str, reply: str) -> None:
        self.api("POST", f"/permission/{request_id}/reply", {"reply": reply})

    def abort(self, sid: str) -> None:
        self.api("POST", f"/session/{sid}/abort", {})
