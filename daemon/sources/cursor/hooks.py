"""Cursor's hooks (agent-hooks.md §4): payload → status. Cursor's hooks are set up in
Cursor itself (and Cursor also runs Claude Code's user hooks), so there is no recipe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessiond.protocol import MAX_SUMMARY, PendingTool, clip
from sessiond.sources.plugin import Mapped, pending_tool, text, tool_name


def session_key(payload: Mapping[str, Any]) -> str:
    return text(payload.get("conversation_id")) or text(payload.get("session_id"))


def map_hook(event: str, p: Mapping[str, Any]) -> Mapped:
    tool = pending_tool(p)
    if event in ("beforeShellExecution", "afterShellExecution") and tool is None:
        command = text(p.get("command"))
        tool = PendingTool("Shell", clip(command, MAX_SUMMARY)) if command else None
    name = tool_name(tool)
    if event == "beforeSubmitPrompt":
        return "working", "new prompt", {}
    if event in ("preToolUse", "beforeShellExecution", "beforeMCPExecution"):
        return "working", f"{name} about to run", {"tool": tool}
    if event in ("postToolUse", "postToolUseFailure", "afterShellExecution", "afterMCPExecution"):
        return "working", f"{name} finished, the model is working", {}
    if event == "stop":
        return "waiting_for_input", f"the turn is over ({text(p.get('status')) or 'completed'})", {}
    if event == "sessionStart":
        return "waiting_for_input", "the session started, no prompt yet", {}
    if event == "sessionEnd":
        return "ended", "the session ended", {}
    if event == "preCompact":
        return "working", "compacting the conversation", {}
    return None, "", {}
