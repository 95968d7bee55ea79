"""Holding Claude Code's `PermissionRequest` hook until the user answers outside the
terminal (see decisions.py for why this is safe: the terminal dialog stays on screen).

Only a request that asks for it is held: `hooks install` adds `?hold=SECONDS` to the
PermissionRequest hook's URL (and a matching timeout) for Claude Code versions whose
dialog races the hook. A subagent's request is never held: for background agents
Claude Code awaits the hook *before* showing the dialog (anthropics/claude-code#82150),
so holding it would hide the prompt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sessiond.config import Config
from sessiond.engine.coordinator import Engine
from sessiond.hooks.decisions import Answer
from sessiond.sources import plugins

MAX_HOLD_S = 3600


def hold_seconds(
    request: web.Request, agent: str, payload: Mapping[str, Any], config: Config
) -> float | None:
    """How long to hold this hook's response for an answer, or None to answer at once."""
    if agent != "claude" or not config.decisions:
        return None
    if payload.get("hook_event_name") != "PermissionRequest" or payload.get("agent_id"):
        return None
    raw = request.query.get("hold", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HOLD_S:
        return None
    return float(raw)


async def hold_for_answer(engine: Engine, payload: Mapping[str, Any], seconds: float) -> Answer | None:
    """Hold the request (the session shows a `decision`) until it is answered, answered in
    the terminal, dropped by the agent (this task is cancelled) or expired: None then."""
    sid = plugins()["claude"].session_key(payload)
    shown = engine.sessions.get(sid)
    if shown is None or shown.status != "waiting_for_approval":
        return None  # the hook did not make it wait (an unknown session, a stale request)
    held = engine.decisions.hold(sid, shown.pending_tool, seconds)
    engine.keeper.refresh(sid)
    try:
        return await asyncio.wait_for(asyncio.shield(held.future), seconds)
    except TimeoutError:
        return None
    finally:
        held.sent.set()
        if engine.decisions.done_with(held):
            engine.keeper.refresh(sid)  # clients see that it can no longer be answered
