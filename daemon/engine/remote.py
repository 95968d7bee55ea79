"""Other machines' sessions, as the bus reports them (contract: "Several machines").

They live in the same session table as this machine's (so `/api`, snapshots, the
stream's filters and the panel see one board), marked `remote`, and are changed only
here: a session or a transition another machine published, its removal, its whole
state at once (a snapshot), or its heartbeat lost and found again (`offline`).

A session (or a snapshot's) that changes nothing publishes nothing. Every transition is
published: a restart re-reads only entries whose events were never committed (the read
position is committed with them), so none repeats and none is lost. Republished changes
get this daemon's own event ids, through the same publisher as local ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog
from sessiond.engine.outputs import Output, SessionChanged, SessionRemoved, TransitionMade
from sessiond.engine.table import SessionEntry, SessionTable
from sessiond.protocol import Removed, Session, Transition, utcnow

log = structlog.get_logger(__name__)


class RemoteSessions:
    def __init__(self, table: SessionTable, emit: Callable[[Output], None], local_name: str,
                 recover_window_s: float) -> None:
        self._table = table
        self._emit = emit
        self.local_name = local_name
        self._recover_window_s = recover_window_s
        self.offline_hosts: set[str] = set()

    def is_remote(self, session: Session) -> bool:
        return session.host not in ("", self.local_name)

    def restore(self, entry: SessionEntry) -> None:
        """A session of another machine, as the last run left it."""
        entry.remote = True

    def _entry_for(self, session: Session) -> SessionEntry | None:
        entry = self._table.get(session.id)
        if entry is not None and not entry.remote and (entry.shown is not None or entry.file is not None):
            log.warning("a session on the bus has the id of a local one; the local one is kept",
                        session=session.id, host=session.host)
            return None
        return entry if entry is not None else self._table.entry(session.id)

    def _shown(self, session: Session) -> Session:
        return session.with_changes(offline=session.host in self.offline_hosts)

    def session(self, session: Session) -> None:
        entry = self._entry_for(session)
        if entry is None:
            return
        new = self._shown(session)
        entry.remote = True
        if entry.shown == new and _same(entry.shown, new):
            return
        entry.shown = new
        self._emit(SessionChanged(new))

    def transition(self, transition: Transition, *, catching_up: bool) -> None:
        entry = self._entry_for(transition.session)
        if entry is None:
            return
        new = self._shown(transition.session)
        entry.remote = True
        # Every transition read is published: a restart re-reads only entries whose events
        # were never committed (the read position is saved with them), so none repeats.
        entry.shown = new
        t = Transition(session_id=new.id, from_status=transition.from_status, to_status=transition.to_status,
                       at=transition.at, reason=transition.reason, source=transition.source, session=new)
        # Older than the recovery window (a restart catching up): published, never toasted.
        old_news = (utcnow() - t.at).total_seconds() >= self._recover_window_s
        self._emit(TransitionMade(t, replayed=old_news, recovered=catching_up and not old_news))

    def removed(self, host: str, session_id: str) -> None:
        entry = self._table.get(session_id)
        if entry is None or not entry.remote or entry.shown is None or entry.shown.host != host:
            return
        shown = self._table.remove(session_id)
        if shown is not None:
            self._emit(SessionRemoved(Removed(session_id), shown.agent, host))

    def snapshot(self, host: str, sessions: Iterable[Session]) -> None:
        """`host`'s whole state: each session as given, and those it no longer has removed."""
        given = {s.id: s for s in sessions}
        for sid in [sid for sid, s in self._table.shown.items() if s.host == host and sid not in given]:
            self.removed(host, sid)
        for session in given.values():
            self.session(session)

    def set_offline(self, host: str, offline: bool) -> None:
        """`host`'s heartbeat expired (or came back): its sessions are shown so, not deleted."""
        if (host in self.offline_hosts) == offline:
            return
        if offline:
            self.offline_hosts.add(host)
        else:
            self.offline_hosts.discard(host)
        log.info("a machine went offline" if offline else "a machine is back", host=host)
        for sid, session in list(self._table.shown.items()):
            entry = self._table.get(sid)
            if entry is not None and entry.remote and session.host == host:
                entry.shown = session.with_changes(offline=offline)
                self._emit(SessionChanged(entry.shown))

    def hosts(self) -> dict[str, int]:
        """Every machine with a session on the board (this one included): how many each."""
        counts: dict[str, int] = {}
        for session in self._table.shown.values():
            name = session.host or self.local_name
            counts[name] = counts.get(name, 0) + 1
        return counts


def _same(a: Session, b: Session) -> bool:
    """Equal as clients see them (fields compared with `compare=False`, too)."""
    return a.to_json() == b.to_json()
