"""Native desktop toasts: the I/O shell around `notify_policy`.

The engine calls `Notifier.on_transition()` for every published transition. A
Working→Waiting starts a short coalescing window (`notify_policy.Coalescer`); when it
closes, `notify_policy.decide()` says toast or skip, and the toast goes out through
desktop-notifier (D-Bus on Linux, UNUserNotificationCenter on macOS, WinRT on Windows).
A later transition of the same session withdraws the toast it made obsolete.

Degrade, never die: a missing backend (no D-Bus session bus, a macOS Python without an
app bundle) leaves the notifier `unavailable` in /health with the reason; the daemon
carries on, and the backend is probed again now and then, so a notification daemon that
starts later is picked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import webbrowser
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

import structlog
from desktop_notifier import DesktopNotifier
from sessiond.config import Config
from sessiond.notify.backend import (
    Probe,
    change_controls,
    claim_ledger,
    dispose,
    load_controls,
    make_desktop_notifier,
    panel_url,
    platform_name,
    probe,
    send_toast,
)
from sessiond.notify.policy import (
    MUTE_BUTTON_FOR,
    Coalescer,
    Controls,
    Decision,
    Pending,
    Toast,
    decide,
    decide_reminder,
    should_withdraw,
)
from sessiond.protocol import WAITING, ComponentHealth, Status, Transition, utcnow
from sessiond.store.db import Store, StoreError
from sessiond.terminals.run import ActionFailed

log = structlog.get_logger(__name__)

# While unavailable, a toast that is due triggers a new probe at most this often.
REPROBE_EVERY_S = 30.0
MAX_SENT = 200


# -- the notifier --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentToast:
    session_id: str
    title: str
    body: str
    kind: str
    reminder: bool
    identifier: str
    at: datetime


@dataclass(slots=True)
class NotifierStats:
    sent: int = 0
    failed: int = 0
    withdrawn: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def prometheus(self) -> str:
        lines = [
            "# TYPE sessiond_toasts_sent_total counter",
            f"sessiond_toasts_sent_total {self.sent}",
            "# TYPE sessiond_toasts_failed_total counter",
            f"sessiond_toasts_failed_total {self.failed}",
            "# TYPE sessiond_toasts_withdrawn_total counter",
            f"sessiond_toasts_withdrawn_total {self.withdrawn}",
            "# TYPE sessiond_toasts_skipped_total counter",
        ]
        lines += [
            f'sessiond_toasts_skipped_total{{reason="{r}"}} {n}'
            for r, n in sorted(self.skipped.items())
        ]
        return "\n".join(lines) + "\n"


class ToastTerminals(Protocol):
    """What a toast needs of `sessiond.terminals.service.Terminals`."""

    def can_focus(self, session_id: str) -> bool: ...
    def can_type(self, session_id: str) -> bool: ...
    async def focus(self, session_id: str) -> Any: ...
    async def type_into(self, session_id: str, text: str, enter: bool) -> Any: ...


@dataclass(slots=True)
class _Shown:
    identifier: str
    status: Status


def _open_in_browser(url: str) -> None:
    # webbrowser.open can block on xdg-open; the click handler runs on the event loop.
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


class Notifier:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        open_url: Callable[[str], None] | None = None,
        backend: DesktopNotifier | None = None,
        clock: Callable[[], datetime] = utcnow,
        tz: tzinfo | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.open_url = open_url or _open_in_browser
        self.sent: list[SentToast] = []
        self.stats = NotifierStats()
        self._clock = clock
        self._tz = tz
        self._own_backend = backend is None
        self._dn = backend
        self._probe = Probe("not started")
        self._probed_at = float("-inf")
        self._probe_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._coalescer = Coalescer()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._latest: dict[str, Transition] = {}
        self._shown: dict[str, _Shown] = {}
        self._reminders: dict[str, asyncio.TimerHandle] = {}
        self._reported_problems: list[str] = []
        self._closed = False
        # The held permission requests (hooks/decisions.py), for Allow/Deny on the toast:
        # (session id) -> answer function, or None when the session holds none.
        self.answers_for: Callable[[str], Callable[[str], None] | None] = lambda _sid: None
        # Where each session's agent runs (sessiond.terminals): a click focuses it, an
        # input toast's reply is typed into it. None: the panel opens, no reply field.
        self.terminals: ToastTerminals | None = None

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Probe the backend. Never raises: a failure is a reason in `health()`."""
        self._loop = asyncio.get_running_loop()
        if not self.config.notify:
            self._probe = Probe(None, server="disabled by --no-notify")
            return
        await self._reprobe()

    async def close(self) -> None:
        self._closed = True
        if self._timer:
            self._timer.cancel()
        for handle in self._reminders.values():
            handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._dn is not None and self._own_backend:
            dispose(self._dn)

    def health(self) -> ComponentHealth:
        if self._probe.reason is not None:
            return ComponentHealth("unavailable", self._probe.reason)
        if not self.config.notify:
            return ComponentHealth("ok", "toasts disabled by --no-notify")
        server = f" ({self._probe.server})" if self._probe.server else ""
        return ComponentHealth("ok", f"desktop notifications via {platform_name()}{server}")

    async def settle(self, within: float = 10.0) -> None:
        """Wait until no burst is pending and no toast is being sent (for tests, shutdown)."""
        async with asyncio.timeout(within):
            while len(self._coalescer) or self._tasks:
                await asyncio.sleep(0.01)

    # -- the engine's entry point ----------------------------------------------------

    def on_transition(
        self, t: Transition, *, replayed: bool = False, recovered: bool = False
    ) -> None:
        """Take one published transition; never blocks, never raises."""
        try:
            self._on_transition(t, replayed, recovered)
        except Exception:  # a toast problem must not reach the engine
            log.exception("notifier failed on a transition", session=t.session_id)

    def _on_transition(self, t: Transition, replayed: bool, recovered: bool) -> None:
        if self._closed:
            return
        if self._loop is None:
            # Called before start(): the first toast that is due probes the backend.
            self._loop = asyncio.get_running_loop()
        sid = t.session_id
        if t.to_status == "ended":
            self._latest.pop(sid, None)
        else:
            self._latest[sid] = t
        shown = self._shown.get(sid)
        if shown and should_withdraw(shown.status, t):
            self._spawn(self._withdraw(sid))
        if sid in self._reminders and t.to_status != "idle":
            self._reminders.pop(sid).cancel()
        if not self.config.notify:
            if t.is_working_to_waiting:
                self.stats.skipped["disabled"] += 1
            return
        if replayed and not recovered:
            # Never toasts; decided at once so the skip is counted, not held in a window.
            self._count(self._decide(t, replayed=True, recovered=False))
            return
        if not t.is_working_to_waiting and sid not in self._coalescer:
            return  # nothing to show, nothing pending to update
        controls = self._controls()
        if t.is_working_to_waiting:
            self._arm_reminder(t, controls)
        if self._coalescer.offer(
            t, self._loop.time(), window=controls.coalesce_s, recovered=recovered
        ) is not None:
            self._schedule_flush()

    def on_removed(self, session_id: str) -> None:
        """The engine dropped a session: forget it and take back its toast."""
        self._latest.pop(session_id, None)
        if handle := self._reminders.pop(session_id, None):
            handle.cancel()
        if session_id in self._shown and not self._closed:
            self._spawn(self._withdraw(session_id))

    # -- coalescing and delivery -----------------------------------------------------

    def _schedule_flush(self) -> None:
        assert self._loop is not None
        if self._timer:
            self._timer.cancel()
        due = self._coalescer.next_due()
        if due is not None:
            self._timer = self._loop.call_at(due, self._flush)

    def _flush(self) -> None:
        assert self._loop is not None
        self._timer = None
        for pending in self._coalescer.pop_due(self._loop.time()):
            self._spawn(self._deliver(pending))
        self._schedule_flush()

    async def _deliver(self, pending: Pending) -> None:
        if pending.superseded:
            self.stats.skipped["superseded"] += 1
            return
        decision = self._decide(pending.transition, replayed=False, recovered=pending.recovered)
        self._count(decision)
        if decision.toast is not None:
            await self._show(decision.toast)

    def _decide(self, t: Transition, *, replayed: bool, recovered: bool) -> Decision:
        return decide(
            t, controls=self._controls(), ledger=self.store, now=self._clock(),
            replayed=replayed, recovered=recovered, tz=self._tz, local_host=self.config.name,
        )

    def _count(self, decision: Decision) -> None:
        # Every transition reaches the notifier; only the waits are worth counting.
        if decision.skipped and decision.reason != "not_a_wait":
            self.stats.skipped[decision.reason] += 1

    async def _show(self, toast: Toast) -> None:
        if not await self._available():
            self.stats.skipped["backend_unavailable"] += 1
            return
        # Claim the ledger row first: two deliveries racing for one transition (a
        # restart loop, a replay) end with one toast.
        if not toast.reminder and not claim_ledger(self.store, toast):
            self.stats.skipped["already_notified"] += 1
            return
        identifier = await self._send(toast)
        if identifier is None and await self._available(force=True):
            identifier = await self._send(toast)  # the connection was stale; once more
        if identifier is None:
            self.stats.failed += 1
            if not toast.reminder:
                with contextlib.suppress(StoreError, sqlite3.Error):
                    self.store.unmark_notified(*toast.ledger_key)
            return
        self.stats.sent += 1
        self.sent.append(SentToast(toast.session_id, toast.title, toast.body, toast.kind,
                                   toast.reminder, identifier, self._clock()))
        del self.sent[:-MAX_SENT]
        self._shown[toast.session_id] = _Shown(identifier, toast.status)
        latest = self._latest.get(toast.session_id)
        if latest is None or should_withdraw(toast.status, latest):
            # The session moved on while the toast was on its way.
            await self._withdraw(toast.session_id)

    async def _send(self, toast: Toast) -> str | None:
        """Send one toast; its id once the backend accepted it, else None."""
        if self._dn is None:
            return None
        sid, project = toast.session_id, toast.project
        return await send_toast(
            self._dn, toast, markup=self._probe.markup,
            on_mute=lambda: self._mute_pressed(sid, project),
            on_click=lambda: self._clicked(sid),
            on_dismiss=lambda: self._forget(sid),
            answers=self.answers_for(sid) if toast.kind == "approval" and not toast.reminder else None,
            reply=self._reply_action(sid) if toast.kind == "input" else None,
        )

    def _reply_action(self, session_id: str) -> Callable[[str], None] | None:
        terminals = self.terminals
        if terminals is None or not terminals.can_type(session_id):
            return None

        def reply(text: str) -> None:
            self._forget(session_id)
            self._spawn(self._type_reply(terminals, session_id, text))

        return reply

    async def _type_reply(self, terminals: ToastTerminals, session_id: str, text: str) -> None:
        try:
            await terminals.type_into(session_id, text, True)
        except ActionFailed as exc:
            log.warning("a toast's reply was not typed", session=session_id, reason=str(exc))

    async def _withdraw(self, session_id: str) -> None:
        shown = self._shown.pop(session_id, None)
        if shown is None or self._dn is None:
            return
        try:
            await self._dn.clear(shown.identifier)
            self.stats.withdrawn += 1
        except KeyError:
            pass  # closed already: clicked, dismissed or expired
        except Exception:  # a stale toast is not worth a crash
            log.warning("could not withdraw a toast", session=session_id, exc_info=True)

    # -- toast actions ---------------------------------------------------------------

    def _clicked(self, session_id: str) -> None:
        self._forget(session_id)
        terminals = self.terminals
        wants_terminal = self.config.toast_click == "terminal"
        if wants_terminal and terminals is not None and terminals.can_focus(session_id):
            self._spawn(self._focus_or_open(terminals, session_id))
        else:
            self._open_panel(session_id)

    async def _focus_or_open(self, terminals: ToastTerminals, session_id: str) -> None:
        try:
            await terminals.focus(session_id)
        except ActionFailed as exc:
            log.warning("could not focus the terminal; opening the panel", session=session_id,
                        reason=str(exc))
            self._open_panel(session_id)

    def _open_panel(self, session_id: str) -> None:
        try:
            self.open_url(panel_url(self.config, session_id))
        except Exception:  # no browser is not a daemon problem
            log.warning("could not open the panel", session=session_id, exc_info=True)

    def _mute_pressed(self, session_id: str, project: str) -> None:
        self._forget(session_id)
        until = self._clock() + MUTE_BUTTON_FOR
        change_controls(self.config, self.store,
                        lambda c: c.with_mute(project, until, self._clock()))
        log.info("project muted from a toast", project=project, until=until.isoformat())

    def _forget(self, session_id: str) -> None:
        self._shown.pop(session_id, None)

    # -- reminders -------------------------------------------------------------------

    def _arm_reminder(self, t: Transition, controls: Controls) -> None:
        assert self._loop is not None
        minutes = controls.reminder_after_min
        if minutes <= 0 or t.session.parent_id:
            return
        if old := self._reminders.pop(t.session_id, None):
            old.cancel()
        self._reminders[t.session_id] = self._loop.call_later(
            minutes * 60, self._remind, t.session_id, t.at
        )

    def _remind(self, session_id: str, armed_at: datetime) -> None:
        self._reminders.pop(session_id, None)
        latest = self._latest.get(session_id)
        if latest is None or (latest.to_status not in WAITING and latest.to_status != "idle"):
            return
        session = latest.session
        if session.status == "idle":
            session = session.with_changes(status=latest.from_status or "waiting_for_input")
        decision = decide_reminder(
            session, waited=self._clock() - armed_at, controls=self._controls(),
            now=self._clock(), tz=self._tz,
        )
        self._count(decision)
        if decision.toast is not None:
            self._spawn(self._replace_with(decision.toast))

    async def _replace_with(self, toast: Toast) -> None:
        await self._withdraw(toast.session_id)
        await self._show(toast)

    # -- helpers ---------------------------------------------------------------------

    def _controls(self) -> Controls:
        # Read at decision time: `sessiond mute` writes the store from another process.
        controls, problems = load_controls(self.config, self.store)
        if problems != self._reported_problems:
            self._reported_problems = problems
            for problem in problems:
                log.warning("notification setting ignored", problem=problem)
        return controls

    async def _available(self, *, force: bool = False) -> bool:
        if self._probe.reason is None and not force:
            return True
        assert self._loop is not None
        if force or self._loop.time() - self._probed_at >= REPROBE_EVERY_S:
            await self._reprobe()
        return self._probe.reason is None

    async def _reprobe(self) -> None:
        async with self._probe_lock:
            assert self._loop is not None
            self._probed_at = self._loop.time()
            if self._dn is not None and self._own_backend:
                dispose(self._dn)
                self._dn = None
            if self._dn is None:
                self._dn = make_desktop_notifier()
            before = self._probe.reason
            self._probe = await probe(self._dn)
            if self._probe.reason != before:
                if self._probe.reason is None:
                    log.info("desktop notifications available", server=self._probe.server)
                else:
                    log.warning("desktop notifications unavailable", reason=self._probe.reason)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("toast task failed", exc_info=task.exception())
