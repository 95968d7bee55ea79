"""Helpers for the web panel's browser tests: Claude transcripts written line by line
(with chosen timestamps, subagents, /exit and old files), and Chromium's settings. The
daemon itself is started by `tests.daemon_proc`."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.daemon_proc import DaemonProcess

LIVE_TIMEOUT_MS = 15_000
CHROMIUM = Path(os.environ.get("SESSIOND_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso(offset_s: float = 0.0) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=offset_s))


def encode_cwd(cwd: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in cwd)


class ClaudeTranscript:
    """A Claude Code session file, written the way Claude Code writes it."""

    def __init__(
        self,
        projects: Path,
        session_id: str,
        cwd: str,
        branch: str = "main",
        *,
        agent_id: str | None = None,
        parent: ClaudeTranscript | None = None,
    ) -> None:
        self.session_id = session_id
        self.cwd = cwd
        self.branch = branch
        self.agent_id = agent_id
        folder = projects / encode_cwd(cwd)
        if parent is not None and agent_id is not None:
            self.path = folder / parent.session_id / "subagents" / f"agent-{agent_id}.jsonl"
        else:
            self.path = folder / f"{session_id}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.last_uuid: str | None = None

    def subagent(self, agent_id: str) -> ClaudeTranscript:
        projects = self.path.parent.parent
        return ClaudeTranscript(
            projects, self.session_id, self.cwd, self.branch, agent_id=agent_id, parent=self
        )

    def _envelope(self, kind: str, at: str | None) -> dict[str, Any]:
        self.count += 1
        uuid = f"{self.session_id[:8]}-{self.agent_id or 'main'}-{self.count:04d}"
        line: dict[str, Any] = {
            "type": kind,
            "uuid": uuid,
            "parentUuid": self.last_uuid,
            "sessionId": self.session_id,
            "cwd": self.cwd,
            "gitBranch": self.branch,
            "version": "2.1.81",
            "userType": "external",
            "isSidechain": self.agent_id is not None,
            "timestamp": at or now_iso(),
        }
        if self.agent_id is not None:
            line["agentId"] = self.agent_id
        self.last_uuid = uuid
        return line

    def append(self, *lines: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line) + "\n")

    def prompt(self, text: str, at: str | None = None) -> None:
        line = self._envelope("user", at)
        line["message"] = {"role": "user", "content": text}
        line["permissionMode"] = "default"
        self.append(line)

    def reply(self, text: str, at: str | None = None) -> None:
        line = self._envelope("assistant", at)
        line["message"] = {
            "role": "assistant",
            "id": f"msg_{self.count}",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
        }
        self.append(line)

    def tool(self, name: str, tool_input: dict[str, Any], at: str | None = None) -> str:
        line = self._envelope("assistant", at)
        tool_id = f"toolu_{self.session_id[:6]}_{self.count}"
        line["message"] = {
            "role": "assistant",
            "id": f"msg_{self.count}",
            "content": [{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}],
            "stop_reason": "tool_use",
        }
        self.append(line)
        return tool_id

    def tool_result(self, tool_id: str, text: str = "ok", at: str | None = None) -> None:
        line = self._envelope("user", at)
        line["message"] = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": text}],
        }
        self.append(line)

    def exit(self, at: str | None = None) -> None:
        line = self._envelope("user", at)
        line["message"] = {
            "role": "user",
            "content": "<command-name>/exit</command-name>\n"
            "<command-message>exit</command-message>\n<command-args></command-args>",
        }
        out = self._envelope("user", at)
        out["message"] = {
            "role": "user",
            "content": "<local-command-stdout>Goodbye!</local-command-stdout>",
        }
        self.append(line, out)

    def age(self, seconds: float) -> None:
        """Set the file's mtime `seconds` into the past (a session nobody touched)."""
        when = time.time() - seconds
        os.utime(self.path, (when, when))


class Panel:
    """One browser page on the daemon's panel, recording console and page errors."""

    def __init__(self, browser: Browser, daemon: DaemonProcess, *, logged_in: bool = True,
                 **context: Any) -> None:
        self.context = browser.new_context(
            viewport=context.pop("viewport", {"width": 1440, "height": 900}), **context
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._on_console)
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.daemon = daemon
        self.closed = False
        # Logged in as `sessiond open` leaves the browser: with the panel's cookie.
        if logged_in:
            self.context.add_cookies([{"name": "sessiond", "value": daemon.login_cookie(),
                                       "url": daemon.base_url + "/", "httpOnly": True,
                                       "sameSite": "Strict"}])

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def open(self, fragment: str = "") -> Page:
        self.page.goto(f"{self.daemon.base_url}/{fragment}")
        self.wait_live()
        return self.page

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.context.close()

    def wait_live(self, timeout: int = LIVE_TIMEOUT_MS) -> None:
        self.page.wait_for_function(
            "() => document.querySelector('#conn').dataset.state === 'live'"
            " && document.querySelector('#summary').dataset.waiting !== undefined",
            timeout=timeout,
        )

    def wait_column(self, session_id: str, column: str, timeout: int = LIVE_TIMEOUT_MS) -> None:
        try:
            self.page.wait_for_function(
                """([id, col]) => {
                    const card = document.querySelector(`.card[data-id="${CSS.escape(id)}"]`);
                    return card && card.closest('.column').dataset.col === col;
                }""",
                arg=[session_id, column],
                timeout=timeout,
            )
        except Exception as exc:
            raise AssertionError(
                f"{session_id} never reached {column}; board: {self.board()}; "
                f"daemon: {[(s['id'], s['status']) for s in self.daemon.sessions().values()]}"
            ) from exc

    def board(self) -> list[tuple[str, str, str]]:
        """(id, column, status) of every card, in page order."""
        rows: list[list[str]] = self.page.evaluate(
            """() => [...document.querySelectorAll('.card')].map(
                c => [c.dataset.id, c.closest('.column').dataset.col, c.dataset.status])"""
        )
        return [(a, b, c) for a, b, c in rows]

    def card(self, session_id: str) -> Any:
        return self.page.locator(f'.card[data-id="{session_id}"]')

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line or "Refused to" in line]
