"""What the engine produces, as typed outputs on one stream, and the publisher.

The engine emits `SessionChanged`, `TransitionMade`, `SessionRemoved` and
`FileProgress`. The publisher numbers the first three through the hub (which
encodes each SSE frame once and fans it out to the clients), then hands every output,
with its numbered event when it has one, to each subscriber in turn: persistence,
metrics, the notifier. A failing subscriber is logged and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from sessiond.engine.hub import Event, EventHub
from sessiond.protocol import Agent, Removed, Session, Transition

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """Something shown about a session changed: `event: session`."""

    session: Session


@dataclass(frozen=True, slots=True)
class TransitionMade:
    """A session's status changed: `event: transition`.

    At a restart the changes made while the daemon was down are published too:
    `replayed` ones are too old to toast, `recovered` ones are recent enough that they
    still may (once: the notifier's ledger).
    """

    transition: Transition
    replayed: bool = False
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class SessionRemoved:
    """A session's transcript is gone: `event: removed`."""

    removed: Removed
    agent: Agent
    # The machine whose session it was (another one's, for a removal read from the bus).
    host: str = ""


@dataclass(frozen=True, slots=True)
class FileProgress:
    """How far a transcript has been read, (inode, offset); None once it is gone."""

    path: Path
    position: tuple[int, int] | None


Output = SessionChanged | TransitionMade | SessionRemoved | FileProgress
# Called with each output and, for those clients see, its numbered event.
Subscriber = Callable[[Output, Event | None], None]


class Publisher:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, output: Output) -> None:
        event = self._number(output)
        for subscriber in self._subscribers:
            try:
                subscriber(output, event)
            except Exception:
                log.exception("a subscriber of the engine's outputs failed", output=type(output).__name__)

    def _number(self, output: Output) -> Event | None:
        hub = self.hub
        if isinstance(output, SessionChanged):
            s = output.session
            return hub.publish("session", s.to_json(), agent=s.agent, session_id=s.id)
        if isinstance(output, TransitionMade):
            t = output.transition
            return hub.publish("transition", t.to_json(), agent=t.session.agent,
                               session_id=t.session_id, to_status=t.to_status)
        if isinstance(output, SessionRemoved):
            r = output.removed
            return hub.publish("removed", r.to_json(), agent=output.agent, session_id=r.session_id)
        return None
