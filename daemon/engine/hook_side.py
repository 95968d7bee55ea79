"""What the agents' hooks add to the engine's view of a session.

Two jobs: reconcile a transcript's verdict with the session's hook overlay (the rules
are `hooks.reconcile`; this applies them to the session table), and stand in for a
session known from its hooks only, with a `TrackedFile` whose state is a
`HookOnlyState`, until its transcript is read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sessiond.engine.files import TrackedFile
from sessiond.engine.table import SessionEntry, SessionTable
from sessiond.hooks.reconcile import MAX_HOOK_ONLY, HookBook, HookOnlyState, HookSession, reconcile
from sessiond.protocol import Source
from sessiond.read.tailer import Tailer
from sessiond.sources.base import AgentSource, Classification, FileInfo, Thresholds


class HookSide:
    def __init__(
        self,
        table: SessionTable,
        source_of: Callable[[str], AgentSource | None],
        remove_session: Callable[[str, str], None],
    ) -> None:
        self.book = HookBook()
        self._table = table
        self._source_of = source_of
        self._remove_session = remove_session

    def overlay(
        self,
        tracked: TrackedFile,
        verdict: Classification,
        now: datetime,
        source: Source,
        limits: Thresholds,
    ) -> tuple[Classification, Source]:
        """The transcript's verdict reconciled with the session's hook overlay."""
        sid = tracked.session_id
        entry = self._table.get(sid)
        hook_only = entry is not None and entry.hook_file is tracked
        if entry is not None and entry.hook_file is not None and not hook_only:
            self._table.drop_hook_file(entry)  # its transcript is read now: it takes over
        overlay = self.book.overlay(sid)
        if overlay is None:
            return verdict, source
        assert tracked.state is not None
        result = reconcile(None if hook_only else verdict, overlay, now, limits, tracked.state.last_activity)
        if result.expired:
            self.book.expire(sid)
        decided = result.classification.decided
        return result.classification, source if decided == "transcript" else decided

    def stand_in(self, entry: SessionEntry, heard: HookSession) -> TrackedFile | None:
        """The stand-in file of a session known from its hooks only (made on first need)."""
        tracked = entry.hook_file
        if tracked is None:
            source = self._source_of(heard.agent)
            if source is None:
                return None
            sid = entry.session_id
            path = Path(f"<hooks>/{heard.agent}/{sid}")
            tracked = TrackedFile(path, source, FileInfo(heard.agent, sid), Tailer(path),
                                  state=HookOnlyState(sid, heard))
        self._table.set_hook_file(entry, tracked)  # most recently heard last
        while self._table.hook_only_count() > MAX_HOOK_ONLY:
            oldest = self._table.oldest_hook_only()
            assert oldest.hook_file is not None
            agent = oldest.hook_file.source.agent
            self._table.drop_hook_file(oldest)
            if oldest.file is None:
                self._remove_session(oldest.session_id, agent)
        return tracked
