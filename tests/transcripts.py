"""Writing realistic Claude Code transcript lines into a watched directory."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ClaudeTranscript:
    """A session file under `<projects>/<encoded cwd>/<session id>.jsonl`."""

    def __init__(self, projects: Path, session_id: str | None = None, cwd: str = "/home/u/app",
                 branch: str = "main", mode: str = "default") -> None:
        self.session_id = session_id or str(uuid.uuid4())
        self.cwd = cwd
        self.branch = branch
        self.mode = mode
        encoded = "".join(c if c.isalnum() else "-" for c in cwd)
        self.path = projects / encoded / f"{self.session_id}.jsonl"
        self._parent: str | None = None

    def _envelope(self, kind: str, **fields: Any) -> dict[str, Any]:
        uid = str(uuid.uuid4())
        line = {
            "type": kind,
            "uuid": uid,
            "parentUuid": self._parent,
            "sessionId": self.session_id,
            "cwd": self.cwd,
            "gitBranch": self.branch,
            "version": "2.1.42",
            "isSidechain": False,
            "userType": "external",
            "timestamp": now_iso(),
            **fields,
        }
        self._parent = uid
        return line

    def write(self, *records: dict[str, Any], newline: bool = True) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n".join(json.dumps(r) for r in records) + ("\n" if newline else "")
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(text)

    def write_raw(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            fh.write(data)

    def prompt(self, text: str) -> dict[str, Any]:
        return self._envelope("user", message={"role": "user", "content": text},
                              permissionMode=self.mode)

    def reply(self, text: str) -> dict[str, Any]:
        return self._envelope(
            "assistant",
            message={"id": f"msg_{uuid.uuid4().hex[:8]}", "role": "assistant", "model": "claude",
                     "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"},
        )

    def tool_use(self, name: str, tool_input: dict[str, Any], tool_id: str | None = None
                 ) -> dict[str, Any]:
        return self._envelope(
            "assistant",
            message={"id": f"msg_{uuid.uuid4().hex[:8]}", "role": "assistant", "model": "claude",
                     "content": [{"type": "tool_use", "id": tool_id or f"toolu_{uuid.uuid4().hex[:8]}",
                                  "name": name, "input": tool_input}],
                     "stop_reason": "tool_use"},
        )

    def tool_result(self, tool_id: str, content: str = "ok") -> dict[str, Any]:
        return self._envelope(
            "user",
            message={"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": tool_id, "content": content}]},
        )
