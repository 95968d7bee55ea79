"""Held permission requests: Claude Code asks its `PermissionRequest` hook and shows its
terminal dialog at the same time, and the first answer wins (agent-hooks.md §1; measured on
2.1.220). sessiond may therefore hold the hook's HTTP response while the user decides
where they are: the panel, a toast, `sessiond approve`.

One request per session is answerable (a newer one replaces it). A hold ends, with no
decision sent, the moment the request is answered in the terminal (the session leaves
`waiting_for_approval`), the agent drops the connection, or it expires before the
agent's own timeout. Nothing is ever allowed by default or on timeout. Holding costs a
future per request: no thread, no polling.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import structlog
from sessiond.protocol import MAX_REASON, Decision, JSONDict, PendingTool, clip, utcnow

log = structlog.get_logger(__name__)

Behavior = Literal["allow", "deny"]
# Requests held at once (each is a future and a parked HTTP response).
MAX_HELD = 1024


@dataclass(frozen=True, slots=True)
class Answer:
    behavior: Behavior
    message: str = ""
    via: str = "api"

    def hook_body(self) -> JSONDict:
        """What Claude Code reads from an http PermissionRequest hook's response."""
        decision: JSONDict = {"behavior": self.behavior}
        if self.behavior == "deny" and self.message:
            decision["message"] = self.message
        return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}


@dataclass(eq=False, slots=True)
class Held:
    session_id: str
    decision: Decision
    tool: PendingTool | None
    future: asyncio.Future[Answer | None] = field(repr=False)
    # Set when the hook's response (with the answer, or without one) goes out.
    sent: asyncio.Event = field(default_factory=asyncio.Event, repr=False)




class DecisionBook:
    def __init__(self) -> None:
        self._held: dict[str, Held] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def hold(self, session_id: str, tool: PendingTool | None, seconds: float) -> Held:
        """Hold a new request for `session_id`; an older one ends unanswered."""
        self.release(session_id, "replaced by a newer request")
        while len(self._held) >= MAX_HELD:
            self.release(next(iter(self._held)), "too many requests held")
        now = utcnow()
        held = Held(
            session_id,
            Decision(secrets.token_urlsafe(12), since=now, expires=now + timedelta(seconds=seconds)),
            tool,
            asyncio.get_running_loop().create_future(),
        )
        self._held[session_id] = held
        return held

    def current(self, session_id: str) -> Decision | None:
        held = self._held.get(session_id)
        return held.decision if held is not None else None

    def answer(self, session_id: str, decision_id: str, answer: Answer) -> Held | None:
        """Answer the held request whose decision id this is; None when it is not pending."""
        held = self._held.get(session_id)
        if held is None or held.future.done() or not secrets.compare_digest(held.decision.id, decision_id):
            return None
        del self._held[session_id]
        held.future.set_result(answer)
        tool = held.tool
        log.info("permission request answered", session=session_id, behavior=answer.behavior,
                 via=answer.via, tool=tool.name if tool else None,
                 summary=tool.summary if tool else None)
        key = (answer.behavior, answer.via)
        self.counts[key] = self.counts.get(key, 0) + 1
        return held

    def release(self, session_id: str, why: str) -> bool:
        """End a hold with no decision (the terminal answered, the agent left...)."""
        held = self._held.pop(session_id, None)
        if held is None:
            return False
        if not held.future.done():
            held.future.set_result(None)
        log.debug("permission request no longer held", session=session_id, why=why)
        return True

    def done_with(self, held: Held) -> bool:
        """The hold's HTTP response is going out: forget it if it is still the current one."""
        if self._held.get(held.session_id) is held:
            del self._held[held.session_id]
            return True
        return False

    def close(self) -> None:
        for session_id in list(self._held):
            self.release(session_id, "the daemon is stopping")


def message_of(value: object) -> str:
    """A deny message as sent to the agent: short, one paragraph of text."""
    return clip(value, MAX_REASON) if isinstance(value, str) else ""

