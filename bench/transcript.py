"""Claude Code transcript lines, written the way Claude Code writes them (open, append, close).

A user prompt makes a session `working`; an assistant text with `stop_reason: end_turn`
makes it `waiting_for_input`; a `Read` tool call and its result (a tool that never asks
for permission) keep it working; a `last-prompt` bookkeeping line changes nothing. Every
line carries the current time, and a transition's `at` is the time of the line that made it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_NAMESPACE = uuid.UUID("5e55101d-0000-4000-8000-000000000000")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Session:
    """One session file under `<projects>/<encoded cwd>/<session id>.jsonl`."""

    def __init__(self, projects: Path, index: int, *, prefix: str = "bench") -> None:
        self.session_id = str(uuid.uuid5(_NAMESPACE, f"{prefix}-{index}"))
        self.cwd = f"/home/u/{prefix}-project-{index % 20}"
        encoded = "".join(c if c.isalnum() else "-" for c in self.cwd)
        self.path = projects / encoded / f"{self.session_id}.jsonl"
        self._parent: str | None = None
        self._n = 0
        # The timestamp of the last line made: a transition's `at` names the line that made it.
        self.last_ts = ""
        self._tool_id = ""

    def _line(self, kind: str, **fields: Any) -> bytes:
        self._n += 1
        uid = f"{self.session_id[:8]}-{self._n}"
        self.last_ts = now_iso()
        record = {
            "type": kind, "uuid": uid, "parentUuid": self._parent, "sessionId": self.session_id,
            "cwd": self.cwd, "gitBranch": "main", "version": "2.1.42", "isSidechain": False,
            "userType": "external", "timestamp": self.last_ts, **fields,
        }
        self._parent = uid
        return json.dumps(record, separators=(",", ":")).encode() + b"\n"

    def prompt(self, text: str) -> bytes:
        return self._line("user", message={"role": "user", "content": text},
                          permissionMode="default")

    def reply(self, text: str) -> bytes:
        return self._line("assistant", message={
            "id": f"msg_{self._n}", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})

    def read_call(self, n: int) -> bytes:
        self._tool_id = f"toolu_{self._n}_{n}"
        return self._line("assistant", message={
            "id": f"msg_{self._n}", "role": "assistant", "model": "claude",
            "content": [{"type": "tool_use", "id": self._tool_id, "name": "Read",
                         "input": {"file_path": f"/home/u/app/src/module_{n}.py"}}],
            "stop_reason": "tool_use"})

    def read_result(self, n: int) -> bytes:
        return self._line("user", message={"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": self._tool_id,
             "content": "x = 1\n" * 20}]})

    def bookkeeping(self, text: str) -> bytes:
        """A `last-prompt` line: written while waiting, it changes nothing."""
        return json.dumps({"type": "last-prompt", "lastPrompt": text, "sessionId": self.session_id},
                          separators=(",", ":")).encode() + b"\n"

    def append(self, data: bytes) -> int:
        """Append `data` in one write; returns time.monotonic_ns() taken just before it."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            at = time.monotonic_ns()
            os.write(fd, data)
        finally:
            os.close(fd)
        return at

    def create(self, *, ended_turn: bool = True) -> None:
        """The file with one finished turn (waiting_for_input), written before the daemon starts."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.prompt("set up the benchmark project")
        if ended_turn:
            data += self.reply("Done.")
        self.path.write_bytes(data)


def make_sessions(projects: Path, count: int, *, prefix: str = "bench") -> list[Session]:
    sessions = [Session(projects, i, prefix=prefix) for i in range(count)]
    for s in sessions:
        s.create()
    return sessions
