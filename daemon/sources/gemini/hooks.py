"""Gemini CLI's hooks (agent-hooks.md §3): payload → status, and what `hooks install` writes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, PendingTool, clip
from sessiond.sources.gemini.transcript import gemini_home
from sessiond.sources.plugin import (
    HookGroups,
    HookRecipe,
    HookSetup,
    Mapped,
    first_text,
    is_our_command,
    pending_tool,
    text,
    tool_name,
)

_CHAT_FILE = re.compile(r"session-.*-([0-9A-Za-z]{8})\.jsonl?$")
GEMINI_EVENTS: tuple[tuple[str, str, bool], ...] = (  # event, handler name, tool matcher
    ("SessionStart", "sessiond-session-start", False),
    ("BeforeAgent", "sessiond-before-agent", False),
    ("BeforeTool", "sessiond-before-tool", True),
    ("AfterTool", "sessiond-after-tool", True),
    ("Notification", "sessiond-notification", False),
    ("AfterAgent", "sessiond-after-agent", False),
    ("SessionEnd", "sessiond-session-end", False),
)


def session_key(payload: Mapping[str, Any]) -> str:
    # The engine names a Gemini session after the 8 characters in its chat file's name
    # (`session-<ts>-<id8>.jsonl`), which are the first 8 of the sessionId.
    found = _CHAT_FILE.search(text(payload.get("transcript_path")))
    sid = text(payload.get("session_id")) or text(payload.get("thread-id"))
    return found.group(1) if found else sid[:8]


def map_hook(event: str, p: Mapping[str, Any]) -> Mapped:
    tool = pending_tool(p)
    name = tool_name(tool)
    if event == "SessionStart":
        return "waiting_for_input", "the session started, no prompt yet", {}
    if event == "BeforeAgent":
        return "working", "new prompt", {}
    if event == "BeforeTool":
        return "working", f"{name} about to run", {"tool": tool}
    if event == "AfterTool":
        return "working", f"{name} finished, the model is working", {}
    if event == "Notification" and p.get("notification_type") == "ToolPermission":
        details = p.get("details")
        info = details if isinstance(details, dict) else {}
        title = text(info.get("title")) or "a tool"
        what = first_text(info, ("command", "fileName", "filePath", "url", "serverName")) or text(
            p.get("message")
        )
        return "waiting_for_approval", f"{title}: waits for your approval", {
            "tool": PendingTool(clip(title, MAX_SUMMARY), clip(what or title, MAX_SUMMARY))
        }
    if event == "AfterAgent":
        return "waiting_for_input", "the turn is over", {}
    if event == "SessionEnd":
        return "ended", f"the session ended ({text(p.get('reason')) or 'exit'})", {}
    if event == "PreCompress":
        return "working", "compressing the conversation", {}
    return None, "", {}


def settings_file(env: Mapping[str, str], home: Path) -> Path:
    return gemini_home(env, home) / "settings.json"


def ours(handler: dict[str, Any]) -> bool:
    names = {name for _, name, _ in GEMINI_EVENTS}
    return is_our_command(handler.get("command"), "gemini") or handler.get("name") in names


def groups(setup: HookSetup) -> HookGroups:
    found: HookGroups = {}
    for event, name, tools in GEMINI_EVENTS:
        handler = {"type": "command", "name": name,
                   "timeout": 2000 if event == "SessionEnd" else 3000,  # milliseconds
                   "command": setup.command("gemini")}  # fmt: skip
        found[event] = {"matcher": "*", "hooks": [handler]} if tools else {"hooks": [handler]}
    return found


RECIPE = HookRecipe(settings_file=settings_file, groups=groups, ours=ours)
