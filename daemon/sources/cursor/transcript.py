"""Cursor agent transcripts: `$CURSOR_HOME/projects/<enc>/agent-transcripts/<id>/<id>.jsonl`.

Rules: shared/docs/agent-formats.md §4. Lines are `{"role", "message": {"content": [...]}}`
(text and tool_use blocks, no tool results, no timestamps) and
`{"type": "turn_ended", "status": "success" | "error", "error"?}`. Approval prompts are not
visible at all. Corpus references ("L5") are to
`corpus/cursor/MarcAltabella__Cala-OpenAI__0-full.jsonl`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, MAX_TITLE, Agent, JSONDict, PendingTool, clip
from sessiond.sources.base import (
    FileInfo,
    SessionMeta,
    Thresholds,
    Verdict,
    line_ref,
    parts_under,
    project_name,
)
from sessiond.sources.plugin import agent_root

_QUERY = re.compile(r"<user_query>\s*(.*?)\s*(?:</user_query>|$)", re.S)
_ABORTED = "User aborted request"
_MAX_PROJECTS = 4096


def _squash(text: str) -> str:
    """Cursor's folder name for a path: every run of non-alphanumerics becomes `-`
    (`/Users/mauro/personal_project/cala-openai` -> `Users-mauro-personal-project-cala-openai`).
    Compared with runs collapsed, so the exact rule for `/.` or `_` does not matter."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


@dataclass(slots=True)
class _Mark:
    line_no: int | None
    at: datetime
    what: str
    tool: PendingTool | None = None


class CursorState:
    def __init__(self, info: FileInfo, folder: str = "") -> None:
        self._meta = SessionMeta(session_id=info.session_id, parent_id=info.parent_id)
        self._folder = _squash(folder)
        if folder:
            # Until a tool path reveals the real cwd, the folder name is all we have.
            self._meta.project = folder
        self._last_at: datetime | None = None
        self._last: _Mark | None = None
        self._status = "waiting_for_input"

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def last_activity(self) -> datetime | None:
        return self._last_at

    def has_basis(self) -> bool:
        return self._last is not None

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        self._last_at = at
        if record.get("type") == "turn_ended":
            status, error = record.get("status"), record.get("error")
            if status == "success":
                what = "turn ended (success)"
            elif isinstance(error, str) and error.startswith(_ABORTED):
                what = "turn ended: interrupted by the user (User aborted request)"
            else:
                what = f"turn ended ({status}: {clip(str(error or ''), 120)})"
            self._set("waiting_for_input", _Mark(line_no, at, what))
            return
        role = record.get("role")
        message = record.get("message")
        if role not in ("user", "assistant") or not isinstance(message, dict):
            return
        blocks = message.get("content")
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        if not isinstance(blocks, list):
            blocks = []
        if role == "user":
            text = "".join(
                b["text"] for b in blocks
                if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
            )
            query = _QUERY.search(text)
            if not self._meta.title and text.strip():
                self._meta.title = clip(query.group(1) if query else text, MAX_TITLE)
            self._set("working", _Mark(line_no, at, "user prompt"))
            return
        tool: PendingTool | None = None
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                tool = _tool(block)
                self._sniff_cwd(block.get("input"))
        what = f"assistant called {tool.name}" if tool else "assistant message"
        # No turn_ended after it yet: the agent is still going (L2-L4).
        self._set("working", _Mark(line_no, at, what, tool))

    def _set(self, status: str, mark: _Mark) -> None:
        self._status, self._last = status, mark

    def _sniff_cwd(self, value: object) -> None:
        """The workspace is the prefix of a tool path whose squashed form is the
        folder name (L2: `/Users/mauro/personal_project/cala-openai/.agents/...`)."""
        if self._meta.cwd or not self._folder:
            return
        texts = list(value.values()) if isinstance(value, dict) else [value]
        for text in texts:
            if not isinstance(text, str) or len(text) > 4096:
                continue
            for path in re.findall(r"(?:[A-Za-z]:)?[/\\][^\s'\"`]+", text):
                for cut in range(len(path), 0, -1):
                    if (cut == len(path) or path[cut] in "/\\") and (
                        _squash(path[:cut]) == self._folder
                    ):
                        self._meta.cwd = path[:cut]
                        self._meta.project = project_name(path[:cut])
                        return

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        m = self._last
        if m is None:
            return Verdict("waiting_for_input", "no prompt yet", self._last_at)
        reason = f"{line_ref(m.line_no)}: {m.what}"
        if self._status == "working":
            return Verdict("working", reason, m.at, m.tool)
        return Verdict("waiting_for_input", reason, m.at)


def _tool(block: Mapping[str, Any]) -> PendingTool:
    name = str(block.get("name") or "tool")
    raw_args = block.get("input")
    args: Mapping[str, Any] = raw_args if isinstance(raw_args, dict) else {}
    detail = next(
        (args[k] for k in ("command", "path", "file_path", "pattern", "query", "url") if k in args),
        "",
    )
    return PendingTool(name, clip(str(detail) or name, MAX_SUMMARY))


class CursorSource:
    agent: Agent = "cursor"

    def __init__(self) -> None:
        # The encoded workspace folder of each transcript seen by identify(), for
        # new_state(): it is how the cwd is recovered from tool paths.
        self._folders: dict[str, str] = {}

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [agent_root(env, "CURSOR_HOME", home / ".cursor") / "projects"]

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        parts = parts_under(path, root)
        if parts is None:
            return None
        if len(parts) < 3 or parts[1] != "agent-transcripts" or path.suffix != ".jsonl":
            return None
        rest = parts[2:]
        # `<id>/<id>.jsonl`, or `<id>.jsonl` directly in agent-transcripts (older builds).
        if len(rest) == 1 or (len(rest) == 2 and rest[0] == path.stem):
            info = FileInfo("cursor", path.stem)
        elif len(rest) == 3 and rest[1] == "subagents":
            info = FileInfo("cursor", path.stem, role="subagent", parent_id=rest[0])
        else:
            return None
        self._folders[info.session_id] = parts[0]
        while len(self._folders) > _MAX_PROJECTS:
            self._folders.pop(next(iter(self._folders)))
        return info

    def new_state(self, info: FileInfo) -> CursorState:
        return CursorState(info, self._folders.get(info.session_id, ""))

    def record_time(self, record: JSONDict) -> datetime | None:
        # Cursor writes no timestamps; the shell uses the arrival time (offline: mtime).
        return None

    def recognises(self, record: JSONDict) -> bool:
        if record.get("type") == "turn_ended":
            return "status" in record
        message = record.get("message")
        return (
            record.get("role") in ("user", "assistant")
            and "type" not in record
            and isinstance(message, dict)
            and isinstance(message.get("content"), list | str)
        )
