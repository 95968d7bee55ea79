"""The session table and everything that changes it: classify, overlay, apply, emit.

The coordinator hands it a tracked file whose state is up to date (`evaluate`), a hook
payload (`hook_event`), or a deadline fires (`_on_timer`). It classifies with the agent's
pure rules, overlays the engine's rules (`rules`) and the hooks' (`hook_side`), applies
the result to the session's entry and emits what changed (`outputs`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sessiond.config import Config
from sessiond.engine import rules, timers
from sessiond.engine.files import TrackedFile
from sessiond.engine.hook_side import HookSide
from sessiond.engine.outputs import Output, SessionChanged, SessionRemoved, TransitionMade
from sessiond.engine.remote import RemoteSessions
from sessiond.engine.table import SessionEntry, SessionTable
from sessiond.hooks.decisions import DecisionBook
from sessiond.hooks.reconcile import HookBook, parse_hook, with_hook_limits
from sessiond.protocol import JSONDict, Removed, Session, Source, Terminal, Transition, utcnow
from sessiond.sources import plugins
from sessiond.sources.base import AgentSource, Classification, Thresholds, classify

log = structlog.get_logger(__name__)

# A file whose classifier raised this many times is quarantined.
MAX_FAILURES = 3
# A missed Working→Waiting this recent still toasts at a restart (once: the ledger).
RECOVER_WINDOW = timedelta(minutes=5)


class SessionKeeper:
    def __init__(
        self,
        config: Config,
        emit: Callable[[Output], None],
        file_at: Callable[[Path], TrackedFile | None],
        source_of: Callable[[str], AgentSource | None],
    ) -> None:
        self.config = config
        self._emit = emit
        self._file_at = file_at
        self.table = SessionTable()
        self.sessions = self.table.shown  # read-only: session id -> Session as shown
        self.hook_side = HookSide(self.table, source_of, self.remove)
        # Permission requests held for an answer from outside the terminal (hooks/decisions.py).
        self.decisions = DecisionBook()
        # True while a restart publishes what happened while the daemon was down.
        self.replaying = False
        # Other machines' sessions, from the bus.
        self.remote = RemoteSessions(self.table, emit, config.name, RECOVER_WINDOW.total_seconds())

    @property
    def hooks(self) -> HookBook:
        return self.hook_side.book

    def main_file(self, session_id: str) -> TrackedFile | None:
        """The file whose state decides the session: its transcript, or its hooks' stand-in."""
        entry = self.table.get(session_id)
        if entry is None:
            return None
        tracked = self._file_at(entry.file) if entry.file is not None else None
        if tracked is None or not tracked.has_records:
            return entry.hook_file or tracked  # none, cold or empty: hooks stand in
        return tracked

    def remove(self, sid: str, agent: str) -> None:
        self.hooks.forget(sid)
        shown = self.table.remove(sid)
        if shown is not None:
            self._emit(SessionRemoved(Removed(sid), shown.agent))

    def start_cold(self, tracked: TrackedFile, st: os.stat_result) -> None:
        """A file too old to read: its session is idle. At a restart, that change is published."""
        at = datetime.fromtimestamp(st.st_mtime, tz=utcnow().tzinfo)
        entry = self.table.entry(tracked.session_id)
        entry.cold = Session(id=tracked.session_id, agent=tracked.source.agent,
                             parent_id=tracked.info.parent_id, status="idle", status_since=at,
                             last_activity=at, reason="not written for over a day",
                             host=self.config.name)
        old = entry.shown
        if old is None:
            entry.shown = entry.cold
        elif self.replaying and old.status != "idle":
            new = old.with_changes(status="idle", status_since=at, pending_tool=None,
                                   reason=entry.cold.reason, source="timer")
            entry.shown = new
            self._publish(entry, old, new, now=at, source="timer", signal_at=None)

    def thresholds_for(self, session_id: str) -> Thresholds:
        # Hooks report this session's approvals (or its parent's, for a subagent): the
        # transcript does not guess them.
        shown = self.sessions.get(session_id)
        parent = shown.parent_id if shown is not None else None
        if self.hooks.exact_approvals(session_id) or (parent and self.hooks.exact_approvals(parent)):
            return with_hook_limits(self.config.thresholds)
        return self.config.thresholds

    def evaluate(
        self, tracked: TrackedFile, *, now: datetime, source: Source, signal_at: float | None,
        initial: bool = False,
    ) -> None:
        state = tracked.state
        if state is None:
            return
        sid = tracked.session_id
        if state.last_activity is None and sid not in self.sessions:
            return  # an empty file (created, not yet written): no session until a record
        limits = self.thresholds_for(sid)
        try:
            verdict = classify(state, now, limits)
        except Exception:
            self.classifier_failed(tracked)
            return
        tracked.failures = 0
        entry = self.table.entry(sid)
        if entry.compacting_since is not None and now - entry.compacting_since >= rules.COMPACTING_FOR:
            entry.compacting_since = None
        verdict = rules.with_compaction(verdict, entry.compacting_since, now)
        verdict = rules.with_children(verdict, self._children_of(entry))
        verdict, source = self.hook_side.overlay(tracked, verdict, now, source, limits)
        self.apply(tracked, verdict, now=now, source=source, signal_at=signal_at, initial=initial)

    def _children_of(self, entry: SessionEntry) -> Iterable[Session]:
        for child_id in entry.children:
            child = self.sessions.get(child_id)
            if child is not None:
                yield child

    def classifier_failed(self, tracked: TrackedFile) -> None:
        tracked.failures += 1
        log.exception("classifier failed", path=str(tracked.path), failures=tracked.failures)
        if tracked.failures >= MAX_FAILURES:
            tracked.quarantined = "its classifier failed repeatedly"
            log.error("transcript quarantined", path=str(tracked.path))

    def apply(
        self, tracked: TrackedFile, verdict: Classification, *, now: datetime, source: Source,
        signal_at: float | None, initial: bool = False,
    ) -> None:
        """Turn a classification into the session shown, publishing what changed."""
        assert tracked.state is not None
        sid = tracked.session_id
        entry = self.table.entry(sid)
        old = entry.shown
        if verdict.status != "waiting_for_approval":
            # Answered in the terminal (or the turn moved on): the held request ends unanswered.
            self.decisions.release(sid, f"the session is {verdict.status}")
        new = rules.session_from(
            old, verdict, session_id=sid, agent=tracked.source.agent, parent_id=tracked.info.parent_id,
            meta=tracked.state.meta, last_activity=tracked.state.last_activity, now=now, source=source,
            decision=self.decisions.current(sid), terminal=entry.terminal,
            terminal_note=entry.terminal_note, host=self.config.name,
        )
        if new.decision is None and new.status == "waiting_for_approval":
            # No held hook: the agent's own prompt keys may answer it (looked up only for
            # an approval wait: this runs for every line).
            plugin = plugins().get(new.agent)
            keys = rules.keys_decision(new, plugin is not None and plugin.approval_keys is not None)
            if keys is not None:
                new = new.with_changes(decision=keys)
        entry.shown = new
        if entry.first_seen is None:
            entry.first_seen = new.last_activity
        timers.arm(entry, verdict.recheck_at, now, lambda: self._on_timer(sid))
        changed_status = old is None or old.status != new.status
        if new.parent_id is not None:
            self.table.entry(new.parent_id).children.add(sid)
            waits = "waiting_for_approval"
            if changed_status and waits in (new.status, old.status if old else None):
                parent = self.main_file(new.parent_id)
                if parent is not None and parent is not tracked:
                    self.evaluate(parent, now=now, source=source, signal_at=signal_at, initial=initial)
        if initial:
            entry.activity_published = new.last_activity
        elif rules.worth_an_event(old, new, entry.activity_published):
            self._publish(entry, old, new, now=now, source=source, signal_at=signal_at)

    def _publish(
        self, entry: SessionEntry, old: Session | None, new: Session, *, now: datetime, source: Source,
        signal_at: float | None,
    ) -> None:
        entry.activity_published = new.last_activity
        self._emit(SessionChanged(new))
        if old is not None and old.status == new.status:
            return
        latency = None
        if signal_at is not None:
            latency = (asyncio.get_running_loop().time() - signal_at) * 1000
        transition = Transition(
            session_id=new.id, from_status=old.status if old else None, to_status=new.status,
            at=new.status_since, reason=new.reason, source=source, session=new, latency_ms=latency,
        )
        # At a restart, only a recent Working→Waiting may still toast (the notifier's
        # ledger makes sure it does so once); older changes are published, not shown.
        recent = utcnow() - transition.at < RECOVER_WINDOW
        self._emit(TransitionMade(transition, replayed=self.replaying and not recent,
                                  recovered=self.replaying and recent))

    def _on_timer(self, sid: str) -> None:
        tracked = self.main_file(sid)
        if tracked is None:
            return
        signal = asyncio.get_running_loop().time()
        self.evaluate(tracked, now=utcnow(), source="timer", signal_at=signal)

    def refresh(self, sid: str) -> None:
        """Apply the session again now (its held request began or ended): clients see it."""
        tracked = self.main_file(sid)
        if tracked is not None:
            self.evaluate(tracked, now=utcnow(), source="hook", signal_at=None)

    def set_terminal(self, sid: str, terminal: Terminal | None, note: str) -> None:
        """Where the session's agent runs changed (`sessiond.terminals`): clients see it."""
        entry = self.table.get(sid)
        if entry is None or (entry.terminal, entry.terminal_note) == (terminal, note):
            return
        entry.terminal, entry.terminal_note = terminal, note
        self.refresh(sid)

    def close(self) -> None:
        self.decisions.close()
        self.table.close()

    # -- hooks ----------------------------------------------------------------------------

    def hook_event(self, agent: str, payload: JSONDict, received: float) -> str | None:
        """An agent's hook (POST /hooks/{agent}): the session changes at once.

        In memory only (no file is read): a hook must never keep the agent waiting.
        `received` is the loop time the request arrived, where the latency starts. A hook
        for a session with no transcript (yet) creates it; it is matched to its file
        when that appears (same engine session id, see `hooks.parse_hook`).
        """
        signal = parse_hook(agent, payload, utcnow())
        if signal is None:
            return None
        sid = signal.session_id
        shown = self.sessions.get(sid)
        heard = self.hooks.record(signal, shown.status if shown is not None else None)
        tracked = self.main_file(sid)
        if tracked is None or not tracked.has_records:
            # No transcript yet (or a cold one not read, or an empty one): hooks stand in.
            if heard.overlay is None or (shown is None and heard.overlay.status == "ended"):
                return sid  # nothing to show: an unknown event, or the end of an unknown session
            tracked = self.hook_side.stand_in(self.table.entry(sid), heard)
            if tracked is None:
                return sid
        self.evaluate(tracked, now=signal.received, source="hook", signal_at=received)
        return sid

    # -- views ----------------------------------------------------------------------------

    def snapshot(self) -> list[Session]:
        """Sessions, newest activity first."""
        return sorted(self.sessions.values(), key=lambda s: s.last_activity, reverse=True)

