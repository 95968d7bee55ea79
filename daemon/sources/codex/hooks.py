"""Codex CLI's hooks (agent-hooks.md §2): payload → status, and what `hooks install` writes.

Besides hooks.json, `hooks install` sets Codex's legacy `notify` program in config.toml
(see hooks/install.py): older Codex versions have only that.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessiond.sources.codex.transcript import codex_home
from sessiond.sources.plugin import (
    HookGroups,
    HookRecipe,
    HookSetup,
    Mapped,
    is_our_command,
    pending_tool,
    text,
    tool_name,
)

CODEX_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
                "PostToolUse", "Stop", "Interrupt", "SessionEnd")  # fmt: skip
CODEX_SHORT = frozenset({"SessionEnd", "Interrupt"})  # Codex caps their timeout at 3 s


def session_key(payload: Mapping[str, Any]) -> str:
    return (text(payload.get("session_id")) or text(payload.get("thread-id"))).lower()


def map_hook(event: str, p: Mapping[str, Any]) -> Mapped:
    tool = pending_tool(p)
    name = tool_name(tool)
    if event == "agent-turn-complete":  # the legacy `notify` program
        return "waiting_for_input", "the turn is over", {}
    if event == "SessionStart":
        if p.get("source") == "compact":
            return None, "", {}
        return "waiting_for_input", "the session started, no prompt yet", {}
    if event == "UserPromptSubmit":
        return "working", "new prompt", {}
    if event == "PreToolUse":
        return "working", f"{name} about to run", {"tool": tool}
    if event == "PermissionRequest":
        return "waiting_for_approval", f"{name} waits for your approval", {"tool": tool}
    if event == "PostToolUse":
        return "working", f"{name} finished, the model is working", {}
    if event == "Stop":
        return "waiting_for_input", "the turn is over", {}
    if event == "Interrupt":
        return "waiting_for_input", "the user interrupted the turn", {}
    if event == "SessionEnd":
        return "ended", "the session ended", {}
    if event == "PreCompact":
        return "working", "compacting the conversation", {}
    return None, "", {}


def settings_file(env: Mapping[str, str], home: Path) -> Path:
    return codex_home(env, home) / "hooks.json"


def ours(handler: dict[str, Any]) -> bool:
    return is_our_command(handler.get("command"), "codex")


def groups(setup: HookSetup) -> HookGroups:
    return {
        event: {"hooks": [{"type": "command", "command": setup.command("codex"),
                           "timeout": 2 if event in CODEX_SHORT else 5}]}
        for event in CODEX_EVENTS
    }


RECIPE = HookRecipe(settings_file=settings_file, groups=groups, ours=ours)
