"""One deadline per session: when its status may change with no new line or hook.

A classification says when it should be looked at again (`recheck_at`: the approval
guess, the settle time, idle). The timer calls back at that moment on the event loop
(`loop.call_at`, no polling); a new classification replaces the old deadline. The
handle lives on the session's entry, so removing the entry cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol


class HasTimer(Protocol):
    timer: asyncio.TimerHandle | None


def arm(entry: HasTimer, when: datetime | None, now: datetime, on_due: Callable[[], None]) -> None:
    """Call `on_due` at `when` (replacing any earlier deadline); None only cancels."""
    cancel(entry)
    if when is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # offline use (tests of the engine without a loop)
    delay = max(0.0, (when - now).total_seconds())

    def fire() -> None:
        entry.timer = None
        on_due()

    entry.timer = loop.call_at(loop.time() + delay, fire)


def cancel(entry: HasTimer) -> None:
    if entry.timer is not None:
        entry.timer.cancel()
        entry.timer = None
