"""The engine: transcript files in, sessions and events out.

Driven from outside: the watcher calls `file_changed` / `file_deleted` /
`directory_added`, the sweep calls `sweep`, hooks call `hook_event`, deadline timers call
back. Each goes down the layers once: read the file (`feeding`), classify it (the
agent's pure rules, `sources/`), overlay the engine's rules (`rules`) and the hooks'
(`hook_side`), then `apply` the result to the session table (`table`) and emit what
changed (`outputs`).
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import structlog
from sessiond.config import Config
from sessiond.engine.feeding import FileFeeder, file_age
from sessiond.engine.files import Root, TrackedFile, admissible, inside, root_of, walk
from sessiond.engine.outputs import FileProgress, Publisher
from sessiond.engine.sessions import SessionKeeper
from sessiond.engine.table import Previous
from sessiond.hooks.decisions import Answer, DecisionBook, Held
from sessiond.hooks.reconcile import HookBook
from sessiond.logs import WarnOnce
from sessiond.protocol import JSONDict, Session, utcnow
from sessiond.read.jsonl import decode_line
from sessiond.read.reader import ReadStats
from sessiond.read.tailer import NotAFile, Tailer
from sessiond.sources.base import (
    AgentSource,
    Classification,
    SessionMeta,
    Thresholds,
    classify,
    project_name,
    watched_roots,
)

log = structlog.get_logger(__name__)

# At a restart, what was written while the daemon was down is replayed line by line to
# publish each transition it missed, up to this much; beyond it only the end state counts.
CATCH_UP_LIMIT = 8 * 1024 * 1024


class Engine:
    def __init__(self, config: Config, publisher: Publisher, sources: list[AgentSource]) -> None:
        self.config = config
        self.publisher = publisher
        self._emit = publisher.emit
        self.roots = [Root(s, path) for s in sources
                      for path in watched_roots(s, config.env, config.home, config.state_dir)]
        self.files: dict[Path, TrackedFile] = {}
        self.stats = ReadStats()
        self._warn = WarnOnce(log)
        self._feeder = FileFeeder(self.stats, self._warn)
        self.keeper = SessionKeeper(config, publisher.emit, self.files.get, self._source_of)
        self.table = self.keeper.table
        self.sessions = self.keeper.sessions  # read-only: session id -> Session as shown

    @property
    def hooks(self) -> HookBook:
        return self.keeper.hooks

    @property
    def decisions(self) -> DecisionBook:
        return self.keeper.decisions

    def answer_decision(self, session_id: str, decision_id: str, answer: Answer) -> Held | None:
        """Answer a held permission request (the API, the panel, a toast, the CLI all come
        here); clients then see that it is no longer held. None when it is not pending."""
        held = self.decisions.answer(session_id, decision_id, answer)
        if held is not None:
            self.keeper.refresh(session_id)
        return held

    # -- discovery --------------------------------------------------------------------

    def start(self, previous: Previous | None = None) -> None:
        """Find every existing transcript and classify it.

        On a first start nothing is published: the sessions are in the snapshot. After a
        restart (`previous` holds what the last run published and where it read each file
        to), every change since is published as it would have been live, so a client
        resuming with Last-Event-ID misses nothing.
        """
        restart = previous is not None and previous.known
        if previous is not None and restart:
            for sid, session in previous.sessions.items():
                entry = self.table.entry(sid)
                entry.shown = session
                if self.keeper.remote.is_remote(session):
                    self.keeper.remote.restore(entry)
                # As last published: an unchanged session is not published again (its
                # terminal too, until `sessiond.terminals` has looked again).
                entry.activity_published = session.last_activity
                entry.terminal, entry.terminal_note = session.terminal, session.terminal_note
            self.keeper.replaying = True
        try:
            for root in self.roots:
                root.exists = root.path.is_dir()
                if root.exists:
                    for path in walk(root.path, self._warn):
                        resume = previous.offsets.get(path) if previous else None
                        self._discover(path, root, initial=not restart, resume=resume)
            if previous is not None and restart:
                for sid, session in previous.sessions.items():
                    if self.table.file_of(sid) is None and not self.keeper.remote.is_remote(session):
                        self.keeper.remove(sid, session.agent)
        finally:
            self.keeper.replaying = False

    def undescribed_cold(self) -> list[TrackedFile]:
        """Old files left unread at start whose sessions show no project or title yet."""
        found = []
        for tracked in self.files.values():
            entry = self.table.get(tracked.session_id)
            if tracked.state is None and entry is not None and entry.cold is not None \
                    and not entry.cold.project and not entry.cold.title:
                found.append(tracked)
        return found

    def read_head(self, tracked: TrackedFile) -> SessionMeta | None:
        """Blocking (run it in a thread): the head of an old file, for its project and title."""
        try:
            return self._feeder.meta_from_head(tracked)
        except OSError:
            return None  # gone or unreadable since: it stays as it is shown

    def describe(self, tracked: TrackedFile, meta: SessionMeta) -> None:
        """An old session's project, branch and title, from its head. Not an event: the
        session did not change (clients see it in /api and the next snapshot)."""
        entry = self.table.get(tracked.session_id)
        if entry is None or entry.cold is None or tracked.state is not None:
            return
        described = entry.cold.with_changes(
            cwd=meta.cwd, project=meta.project or project_name(meta.cwd), branch=meta.branch,
            title=meta.title)
        if entry.shown is entry.cold:
            entry.shown = described
        entry.cold = described

    def check_roots(self) -> list[Root]:
        """Pick up roots created since start; returns the ones that just appeared."""
        appeared = []
        for root in self.roots:
            if not root.exists and root.path.is_dir():
                root.exists = True
                appeared.append(root)
                log.info("agent root appeared", agent=root.source.agent, root=str(root.path))
                for path in walk(root.path, self._warn):
                    self._discover(path, root, initial=False)
            elif root.exists and not root.path.is_dir():
                root.exists = False
        return appeared

    def sweep(self) -> None:
        """Catch anything the watcher missed: stat every known file, look for new ones."""
        self.check_roots()
        for path, tracked in list(self.files.items()):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                self.file_deleted(path)
                continue
            except OSError as exc:
                self._warn.warn(path, "unstatable", "cannot stat a transcript",
                                error=exc.strerror or str(exc))
                continue
            if not stat.S_ISREG(st.st_mode):
                self.file_deleted(path)
                self._warn.warn(path, "not-a-file", "a transcript is no longer a regular file; dropping it")
                continue
            if tracked.quarantined:
                continue
            if st.st_size != tracked.size or st.st_mtime != tracked.mtime or (
                tracked.tailer.inode not in (None, st.st_ino)
            ):
                self.file_changed(path)
        for root in self.roots:
            if root.exists:
                for path in walk(root.path, self._warn):
                    if path not in self.files:
                        self._discover(path, root, initial=False)

    def directory_added(self, path: Path, signal_at: float | None = None) -> None:
        """A new directory may already hold files the watcher has not reported."""
        root = root_of(self.roots, path)
        if root is None or path.is_symlink() or not inside(path, root):
            return
        for found in walk(path, self._warn):
            self.file_changed(found, signal_at=signal_at)

    def is_read_up_to_date(self, path: Path, st: os.stat_result) -> bool:
        """Has this file been read as it is now (same size, mtime and inode)?"""
        tracked = self.files.get(path)
        if tracked is None or tracked.state is None:
            return False
        return (st.st_size, st.st_mtime) == (tracked.size, tracked.mtime) and (
            tracked.tailer.inode in (None, st.st_ino)
        )

    def tracked_under(self, directory: Path) -> list[Path]:
        return [p for p in self.files if p.is_relative_to(directory)]

    def _discover(
        self, path: Path, root: Root, *, initial: bool, resume: tuple[int, int] | None = None
    ) -> TrackedFile | None:
        found = admissible(path, root, self._warn)
        if found is None:
            return None
        info, st = found
        tracked = TrackedFile(path, root.source, info, Tailer(path), inode=st.st_ino)
        self.files[path] = tracked
        if info.role != "compaction":
            self.table.entry(info.session_id).file = path
        cold = file_age(st) > self.config.cold_after.total_seconds()
        if resume is not None and resume[0] == st.st_ino and resume[1] == st.st_size:
            resume = None  # nothing new since the last run: classify like any start
        if resume is not None and resume[0] == st.st_ino and 0 < st.st_size - resume[1] <= CATCH_UP_LIMIT:
            self._catch_up(tracked, resume[1])
        elif (self.keeper.replaying or initial) and cold:
            self._start_cold(tracked, st)
        else:
            self._load(tracked, initial=initial)
        return tracked

    # -- reading ------------------------------------------------------------------------

    def _start_cold(self, tracked: TrackedFile, st: os.stat_result) -> None:
        """An old file: idle, unread, followed from its end if it ever grows."""
        self._feeder.start_cold(tracked, st)
        if tracked.info.role != "compaction":
            self.keeper.start_cold(tracked, st)

    def _load(self, tracked: TrackedFile, *, initial: bool) -> None:
        now = utcnow()
        try:
            self._feeder.load(tracked, now)
        except NotAFile:
            self._warn.warn(tracked.path, "not-a-file", "skipping a transcript path that is not a file")
            self.files.pop(tracked.path, None)
            entry = self.table.get(tracked.session_id)
            if entry is not None and entry.file == tracked.path:
                entry.file = None
            return
        except OSError as exc:
            self._feeder.read_failed(tracked, exc)
            return
        self._note_size(tracked)
        self.keeper.evaluate(tracked, now=now, source="transcript", signal_at=None, initial=initial)

    def _catch_up(self, tracked: TrackedFile, offset: int) -> None:
        """Replay what was written while the daemon was down, publishing each change.

        The new lines are fed one at a time, with a look at the clock between them (an
        approval wait that began and ended while we were away is still a transition).
        """
        now = utcnow()
        try:
            state, lines = self._feeder.since_offset(tracked, offset, now)
        except (OSError, NotAFile) as exc:
            log.warning("cannot catch up on transcript", path=str(tracked.path), error=str(exc))
            self._load(tracked, initial=False)
            return
        tracked.state = state
        limits = self.thresholds_for(tracked.session_id)
        previous: Classification | None = None
        for line_no, raw in lines:
            for record in decode_line(raw).records:
                written = tracked.source.record_time(record)
                at = min(written, now) if written is not None else (state.last_activity or now)
                if previous is not None and previous.recheck_at is not None and previous.recheck_at < at:
                    timed = classify(state, previous.recheck_at, limits)
                    if timed.status != previous.status:
                        self.keeper.apply(tracked, timed, now=previous.recheck_at, source="timer",
                                          signal_at=None)
                state.feed(record, line_no, at)
                current = classify(state, at, limits)
                if previous is None or current.status != previous.status:
                    self.keeper.apply(tracked, current, now=at, source="transcript", signal_at=None)
                previous = current
        self._note_size(tracked)
        self.keeper.evaluate(tracked, now=now, source="timer", signal_at=None)

    def file_changed(self, path: Path, signal_at: float | None = None) -> None:
        """The watcher (or the sweep) saw `path` change: read what is new."""
        tracked = self.files.get(path)
        root = root_of(self.roots, path)
        if tracked is None:
            if root is None or os.path.islink(path) or not inside(path, root):
                return
            root.exists = True
            self._discover(path, root, initial=False)
            return
        if tracked.quarantined or root is None or not inside(path, root):
            return  # a directory on its way became a symlink: never read through it
        now = utcnow()
        try:
            more = self._feeder.read_new(tracked, now)
        except NotAFile as exc:
            # Replaced by a symlink, a FIFO or a directory: it is no transcript any more.
            self.file_deleted(path)  # (first: it forgets the path's warnings)
            self._warn.warn(path, "not-a-file", "a transcript is no longer a regular file; dropping it",
                            reason=str(exc))
            return
        except FileNotFoundError:
            self.file_deleted(path)
            return
        except OSError as exc:
            self._feeder.read_failed(tracked, exc)
            return
        except Exception:
            # A bug in an agent's parser: count it like a classifier failure, so a file
            # that keeps failing is quarantined rather than retried forever.
            self.keeper.classifier_failed(tracked)
            return
        if more:
            # A burst of many megabytes: let other files and clients have the loop
            # between slices, and read on in the next turn.
            try:
                asyncio.get_running_loop().call_soon(self.file_changed, path, signal_at)
            except RuntimeError:  # no loop (offline use): just read on
                self.file_changed(path, signal_at)
                return
        self._note_size(tracked)
        parent_id = tracked.info.parent_id
        if tracked.info.role == "compaction" and parent_id:
            self.table.entry(parent_id).compacting_since = now
            parent = self.keeper.main_file(parent_id)
            if parent is not None:
                self.keeper.evaluate(parent, now=now, source="transcript", signal_at=signal_at)
            return
        self.keeper.evaluate(tracked, now=now, source="transcript", signal_at=signal_at)

    def _note_size(self, tracked: TrackedFile) -> None:
        position = self._feeder.note_size(tracked)
        if position is not None:
            self._emit(FileProgress(tracked.path, position))

    def file_deleted(self, path: Path) -> None:
        tracked = self.files.pop(path, None)
        self._warn.forget(path)
        if tracked is None:
            return
        self._emit(FileProgress(path, None))
        if tracked.info.role == "compaction" or self.table.file_of(tracked.session_id) != path:
            return  # another file carries this session now
        self.keeper.remove(tracked.session_id, tracked.source.agent)

    def _source_of(self, agent: str) -> AgentSource | None:
        return next((r.source for r in self.roots if r.source.agent == agent), None)

    def close(self) -> None:
        self.keeper.close()

    # -- what the session keeper answers ------------------------------------------------

    def hook_event(self, agent: str, payload: JSONDict, received: float) -> str | None:
        """An agent's hook (POST /hooks/{agent}): in memory only, no file is read. Returns
        the session id it is about (None: it names none)."""
        return self.keeper.hook_event(agent, payload, received)

    def thresholds_for(self, session_id: str) -> Thresholds:
        return self.keeper.thresholds_for(session_id)

    def snapshot(self) -> list[Session]:
        """Sessions, newest activity first."""
        return self.keeper.snapshot()

    def conversation(self, session_id: str) -> tuple[str, str]:
        """The user's last prompt and the agent's last reply, as far as the transcript says."""
        tracked = self.keeper.main_file(session_id)
        if tracked is None or tracked.state is None:
            return "", ""
        meta = tracked.state.meta
        return meta.last_prompt, meta.last_reply

    def quarantined(self) -> dict[str, str]:
        return {str(t.path): t.quarantined for t in self.files.values() if t.quarantined}
