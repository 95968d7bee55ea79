"""Claude Code's hooks: payload → status (agent-hooks.md §1), and what `hooks install` writes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, PendingTool, clip, tool_input
from sessiond.sources.claude.transcript import claude_home, summarize_tool
from sessiond.sources.plugin import (
    HookGroups,
    HookRecipe,
    HookSetup,
    Mapped,
    Version,
    is_our_command,
    is_our_url,
    text,
    tool_name,
)

_APPROVAL_HINT = re.compile(r"permission to use ([\w.:-]+)")

# Each event we install and the first version that has it. Before 2.1.101 an unknown
# event name made Claude Code skip the WHOLE settings file (agent-hooks.md §1.6), so
# events are gated on `claude --version` when it is known.
CLAUDE_EVENTS: tuple[tuple[str, Version], ...] = (
    ("SessionStart", (1, 0, 62)),
    ("UserPromptSubmit", (1, 0, 54)),
    ("PreToolUse", (1, 0, 38)),
    ("PermissionRequest", (2, 0, 45)),
    ("PostToolUse", (1, 0, 38)),
    ("PostToolUseFailure", (2, 1, 50)),
    ("Notification", (1, 0, 38)),
    ("Stop", (1, 0, 38)),
    ("StopFailure", (2, 1, 78)),
    ("SubagentStop", (1, 0, 41)),
    ("PreCompact", (1, 0, 48)),
    ("SessionEnd", (1, 0, 85)),
)
CLAUDE_HTTP_SINCE: Version = (2, 1, 63)
# From this version on the PermissionRequest hook runs alongside the terminal dialog and
# the first answer wins (anthropics/claude-code#12176, 2.0.x; #82150, still on 2.1.235 for
# the main session), so sessiond may hold it for an answer from the panel, a toast or the
# CLI: up to HOLD_S, under the hook's own timeout.
CLAUDE_RACES_SINCE: Version = (2, 0, 45)
HOLD_S = 590
HOLD_TIMEOUT_S = 600
CLAUDE_COMMAND_ONLY = frozenset({"SessionStart"})  # events that take no http handler


def session_key(payload: Mapping[str, Any]) -> str:
    return text(payload.get("session_id")) or text(payload.get("thread-id"))


def pending_tool(p: Mapping[str, Any]) -> PendingTool | None:
    name = p.get("tool_name")
    if not isinstance(name, str) or not name:
        return None
    raw = p.get("tool_input")
    return PendingTool(clip(name, MAX_SUMMARY), summarize_tool(name, raw), input=tool_input(raw))


def map_hook(event: str, p: Mapping[str, Any]) -> Mapped:
    tool = pending_tool(p)
    name = tool_name(tool)
    if event == "UserPromptSubmit":
        return "working", "new prompt", {}
    if event == "PreToolUse":
        if tool is not None and tool.name == "AskUserQuestion":
            return "waiting_for_input", "AskUserQuestion waits for an answer", {"tool": tool}
        return "working", f"{name} about to run", {"tool": tool}
    if event == "PermissionRequest":  # ExitPlanMode's plan approval comes this way too
        return "waiting_for_approval", f"{name} waits for your approval", {"tool": tool}
    if event in ("PostToolUse", "PostToolUseFailure"):
        verb = "finished" if event == "PostToolUse" else "failed"
        return "working", f"{name} {verb}, the model is working", {}
    if event == "Notification":
        return _notification(p)
    if event == "Stop":
        return "waiting_for_input", "the turn is over", {}
    if event == "StopFailure":
        return "waiting_for_input", f"the turn ended with an error ({text(p.get('error')) or 'unknown'})", {}
    if event == "SessionStart":
        if p.get("source") == "compact":
            return None, "", {}  # compaction inside a turn: the turn goes on
        return "waiting_for_input", "the session started, no prompt yet", {}
    if event == "SessionEnd":
        return "ended", f"the session ended ({text(p.get('reason')) or 'exit'})", {}
    if event == "PreCompact":
        return "working", "compacting the conversation", {}
    # SubagentStop (the parent goes on), SubagentStart, PermissionDenied, unknown: nothing.
    return None, "", {}


def _notification(p: Mapping[str, Any]) -> Mapped:
    kind = p.get("notification_type")
    if kind == "permission_prompt":
        # ~6 s after the prompt appeared; PermissionRequest usually said so already.
        hint = _APPROVAL_HINT.search(text(p.get("message")))
        tool = PendingTool(hint.group(1), clip(p.get("message"), MAX_SUMMARY)) if hint else None
        return "waiting_for_approval", "a permission prompt is on screen", {"tool": tool}
    if kind == "idle_prompt":
        return "waiting_for_input", "Claude is waiting for your input", {"only_if_working": True}
    if kind in ("elicitation_dialog", "elicitation_url_dialog"):
        return "waiting_for_input", "a tool asks you a question", {}
    return None, "", {}


# -- what `sessiond hooks install` writes ----------------------------------------------------


def settings_file(env: Mapping[str, str], home: Path) -> Path:
    return claude_home(env, home) / "settings.json"


def claude_events(version: Version | None) -> list[str]:
    return [e for e, since in CLAUDE_EVENTS if version is None or version >= since]


def holds_permission_requests(version: Version | None) -> bool:
    """Does this Claude Code (None: unknown, taken to be current) race its dialog with the
    PermissionRequest hook, so that holding the hook hides nothing?"""
    return version is None or version >= CLAUDE_RACES_SINCE


def ours(handler: dict[str, Any]) -> bool:
    return is_our_url(handler.get("url"), "claude") or is_our_command(handler.get("command"), "claude")


def groups(setup: HookSetup) -> HookGroups:
    http = setup.claude_version is None or setup.claude_version >= CLAUDE_HTTP_SINCE
    found: HookGroups = {}
    for event in claude_events(setup.claude_version):
        handler: dict[str, Any]
        if http and event not in CLAUDE_COMMAND_ONLY:
            held = event == "PermissionRequest" and holds_permission_requests(setup.claude_version)
            handler = {
                "type": "http",
                "url": f"{setup.claude_url}?hold={HOLD_S}" if held else setup.claude_url,
                # The literal token (see hooks/install.py). It lets only this machine's
                # hooks post statuses; `sessiond hooks status` tells if it no longer
                # matches the daemon's.
                "headers": {"Authorization": f"Bearer {setup.token}"},
                "timeout": HOLD_TIMEOUT_S if held else 2 if event == "SessionEnd" else 3,
            }
        else:
            handler = {"type": "command", "command": setup.command("claude"), "timeout": 5}
            if http:
                handler["async"] = True  # SessionStart: never hold up a start
        found[event] = {"hooks": [handler]}
    return found


RECIPE = HookRecipe(settings_file=settings_file, groups=groups, ours=ours)
