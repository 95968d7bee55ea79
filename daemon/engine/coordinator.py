"""The engine: transcript files in, sessions and events out.

It owns the tracked files (a tailer and a classifier state each), the sessions derived
from them, and one deadline timer per session. It is driven from outside: the watcher
calls `file_changed` / `file_deleted`, the sweep calls `sweep`, timers call back into
`_on_timer`. Every change is published through the hub as `session` / `transition` /
`removed` events; classification itself is the agents' pure code (`sources/`).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sessiond.config import Config
from sessiond.engine.hub import EventHub
from sessiond.hooks.reconcile import (
    MAX_HOOK_ONLY,
    HookBook,
    HookOnlyState,
    HookSession,
    parse_hook,
    reconcile,
    with_hook_limits,
)
from sessiond.logs import WarnOnce
from sessiond.protocol import MAX_TITLE, JSONDict, Session, Source, Status, Transition, clip, utcnow
from sessiond.read.jsonl import decode_line
from sessiond.read.reader import DocumentError, ReadStats, TranscriptReader, read_document
from sessiond.read.tailer import NotAFile, Tailer, is_permission_error
from sessiond.sources.base import (
    AgentSource,
    Classification,
    FileInfo,
    Thresholds,
    TranscriptState,
    classify,
)
from sessiond.store.persistence import Previous

log = structlog.get_logger(__name__)

# One turn of the event loop reads at most this many tailer batches of one file.
READ_SLICES = 4
# A file whose classifier raised this many times is quarantined.
MAX_FAILURES = 3
# `last_activity` alone changes with every line; publish it at most this often.
ACTIVITY_REFRESH = timedelta(seconds=5)
# After the last write to a compaction transcript the parent counts as compacting.
COMPACTING_FOR = timedelta(seconds=5)
# At a restart, what was written while the daemon was down is replayed line by line to
# publish each transition it missed, up to this much; beyond it only the end state counts.
CATCH_UP_LIMIT = 8 * 1024 * 1024
# A missed Working→Waiting this recent still toasts at a restart (once: the ledger).
RECOVER_WINDOW = timedelta(minutes=5)

ToastListener = Callable[..., None]
OffsetListener = Callable[[Path, "tuple[int, int] | None"], None]


@dataclass(eq=False, slots=True)
class TrackedFile:
    path: Path
    source: AgentSource
    info: FileInfo
    tailer: Tailer
    state: TranscriptState | None = None  # None: a cold file, not read yet
    failures: int = 0
    quarantined: str | None = None
    size: int = 0
    mtime: float = 0.0

    @property
    def session_id(self) -> str:
        return self.info.session_id


@dataclass(slots=True)
class Root:
    source: AgentSource
    path: Path
    exists: bool = False


class Engine:
    def __init__(self, config: Config, hub: EventHub, sources: list[AgentSource]) -> None:
        self.config = config
        self.hub = hub
        self.roots = [
            Root(source, path) for source in sources for path in source.roots(config.env, config.home)
        ]
        self.files: dict[Path, TrackedFile] = {}
        self.sessions: dict[str, Session] = {}
        self.stats = ReadStats()
        # Called with every published transition (the notifier, metrics).
        self.transition_listeners: list[Callable[[Transition], None]] = []
        # The notifier: called as (transition, replayed=..., recovered=...).
        self.toast_listener: ToastListener | None = None
        # Persistence: where each file has been read to, (inode, offset), or None.
        self.offset_listener: OffsetListener | None = None
        # True while a restart publishes what happened while the daemon was down.
        self._replaying = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._activity_published: dict[str, datetime] = {}
        self._compacting: dict[str, datetime] = {}
        self._warn = WarnOnce(log)
        self._reader = TranscriptReader(self.stats, self._warn)
        # session id -> the file that carries it (compaction files carry none)
        self._by_session: dict[str, Path] = {}
        # Sessions of files too old to read at start-up, as shown until they grow.
        self._cold: dict[str, Session] = {}
        # What the agents' hooks said (see hooks.py), and the stand-in files of sessions
        # known from hooks only, until their transcript appears (or grows, if cold).
        self.hooks = HookBook()
        self._hook_files: dict[str, TrackedFile] = {}
        # parent session id -> its subagent sessions
        self._children: dict[str, set[str]] = {}

    # -- discovery ------------------------------------------------------------

    def start(self, previous: Previous | None = None) -> None:
        """Find every existing transcript and classify it.

        On a first start nothing is published: the sessions are in the snapshot. After a
        restart (`previous` holds what the last run published and where it read each file
        to), every change since is published as it would have been live, so a client
        resuming with Last-Event-ID misses nothing.
        """
        restart = previous is not None and previous.known
        if restart:
            assert previous is not None
            self.sessions.update(previous.sessions)
            self._replaying = True
        try:
            for root in self.roots:
                root.exists = root.path.is_dir()
                if root.exists:
                    for path in self._walk(root.path):
                        resume = previous.offsets.get(path) if previous else None
                        self._discover(path, root, initial=not restart, resume=resume)
            if restart:
                assert previous is not None
                for sid in set(previous.sessions) - set(self._by_session):
                    self._remove_session(sid, previous.sessions[sid].agent)
        finally:
            self._replaying = False

    def check_roots(self) -> list[Root]:
        """Pick up roots created since start; returns the ones that just appeared."""
        appeared = []
        for root in self.roots:
            if not root.exists and root.path.is_dir():
                root.exists = True
                appeared.append(root)
                log.info("agent root appeared", agent=root.source.agent, root=str(root.path))
                for path in self._walk(root.path):
                    self._discover(path, root, initial=False)
            elif root.exists and not root.path.is_dir():
                root.exists = False
        return appeared

    def sweep(self) -> None:
        """Catch anything the watcher missed: stat every known file, look for new ones."""
        self.check_roots()
        for path, tracked in list(self.files.items()):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                self.file_deleted(path)
                continue
            except OSError:
                continue
            if tracked.quarantined:
                continue
            if st.st_size != tracked.size or st.st_mtime != tracked.mtime or (
                tracked.tailer.inode not in (None, st.st_ino)
            ):
                self.file_changed(path)
        for root in self.roots:
            if root.exists:
                for path in self._walk(root.path):
                    if path not in self.files:
                        self._discover(path, root, initial=False)

    def _walk(self, top: Path) -> Iterator[Path]:
        """Every regular file under `top`, never following a symlink (no loops, no escape)."""
        stack = [top]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.is_symlink():
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            if entry.name.endswith(".jsonl"):
                                self._warn.warn(entry.path, "not-a-file",
                                                "skipping a transcript path that is not a file")
                            stack.append(Path(entry.path))
                        else:
                            yield Path(entry.path)
            except OSError as exc:
                if directory == top and not directory.exists():
                    continue
                self._warn.warn(directory, "unreadable-dir", "cannot read directory",
                                error=exc.strerror or str(exc))

    def directory_added(self, path: Path, signal_at: float | None = None) -> None:
        """A new directory may already hold files the watcher has not reported."""
        root = self._root_of(path)
        if root is None or path.is_symlink() or not self._inside(path, root):
            return
        for found in self._walk(path):
            self.file_changed(found, signal_at=signal_at)

    def _root_of(self, path: Path) -> Root | None:
        for root in self.roots:
            if path.is_relative_to(root.path):
                return root
        return None

    @staticmethod
    def _inside(path: Path, root: Root) -> bool:
        """Is `path` really under `root`: no `..` and no symlink on the way from it?

        `_walk` never follows a symlink, but a watcher may report paths through a
        symlinked directory (watchfiles follows them), and a directory may be replaced
        by a symlink after its files were found. The root itself may be a symlink.
        """
        try:
            rel = path.relative_to(root.path)
        except ValueError:
            return False
        if ".." in rel.parts:
            return False
        # One lstat per part below the root (two for a Claude session), not a realpath
        # of both whole paths: this runs for every write of every transcript.
        current = str(root.path)
        for part in rel.parts:
            current = os.path.join(current, part)
            try:
                if stat.S_ISLNK(os.lstat(current).st_mode):
                    return False
            except OSError:
                return True  # gone or unreadable: reading it will say so
        return True

    def _discover(
        self, path: Path, root: Root, *, initial: bool, resume: tuple[int, int] | None = None
    ) -> TrackedFile | None:
        info = root.source.identify(path, root.path)
        if info is None:
            return None
        if not str(path.relative_to(root.path)).isprintable():
            # Undecodable bytes (surrogate escapes) or control characters in the name:
            # no agent writes such names, and they cannot be shown or stored as text.
            self._warn.warn(path, "odd-name", "skipping a transcript whose name is not text")
            return None
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return None
        if not stat.S_ISREG(st.st_mode):
            self._warn.warn(path, "not-a-file", "skipping a transcript path that is not a file")
            return None
        tracked = TrackedFile(path, root.source, info, Tailer(path))
        self.files[path] = tracked
        if info.role != "compaction":
            self._by_session[info.session_id] = path
        age = datetime.now(UTC).timestamp() - st.st_mtime
        if resume is not None and resume[0] == st.st_ino and resume[1] == st.st_size:
            resume = None  # nothing new since the last run: classify like any start
        if resume is not None and resume[0] == st.st_ino and 0 < st.st_size - resume[1] <= CATCH_UP_LIMIT:
            self._catch_up(tracked, resume[1])
        elif self._replaying and age > self.config.cold_after.total_seconds():
            self._start_cold(tracked, st)
            self._publish_replayed_cold(tracked.session_id)
        elif initial and age > self.config.cold_after.total_seconds():
            self._start_cold(tracked, st)
        else:
            self._load(tracked, initial=initial)
        return tracked

    # -- reading ---------------------------------------------------------------

    def _start_cold(self, tracked: TrackedFile, st: os.stat_result) -> None:
        """An old file: idle, unread. It is read from the end if it ever grows."""
        tracked.tailer = Tailer(tracked.path, offset=st.st_size, inode=st.st_ino, line_no=None)
        tracked.size, tracked.mtime = st.st_size, st.st_mtime
        if tracked.info.role == "compaction":
            return
        mtime = datetime.fromtimestamp(st.st_mtime, UTC)
        self._cold[tracked.session_id] = Session(
                id=tracked.session_id,
                agent=tracked.source.agent,
                parent_id=tracked.info.parent_id,
                status="idle",
                status_since=mtime,
                last_activity=mtime,
                reason="not written for over a day",
            )
        self.sessions.setdefault(tracked.session_id, self._cold[tracked.session_id])

    def _publish_replayed_cold(self, sid: str) -> None:
        """At a restart, a session whose file went cold while the daemon was down."""
        cold = self._cold.get(sid)
        old = self.sessions.get(sid)
        if cold is None or old is None or old.status == cold.status:
            return
        new = old.with_changes(status=cold.status, status_since=cold.status_since,
                               pending_tool=None, reason=cold.reason, source="timer")
        self.sessions[sid] = new
        self._publish_session(new)
        self._publish_transition(old, new, now=cold.status_since, source="timer", signal_at=None)

    def _load(self, tracked: TrackedFile, *, initial: bool) -> None:
        """Classify a file from its head and tail, then follow it from its end."""
        now = utcnow()
        try:
            if tracked.info.whole_document:
                self._reload_document(tracked, now)
            else:
                tracked.state, tracked.tailer = self._reader.from_tail(
                    tracked.path, tracked.source, tracked.info, now
                )
        except NotAFile:
            self._warn.warn(tracked.path, "not-a-file", "skipping a transcript path that is not a file")
            self.files.pop(tracked.path, None)
            self._by_session.pop(tracked.session_id, None)
            return
        except OSError as exc:
            self._read_failed(tracked, exc)
            return
        self._note_size(tracked)
        self._evaluate(tracked, now=now, source="transcript", signal_at=None, initial=initial)

    def _catch_up(self, tracked: TrackedFile, offset: int) -> None:
        """Replay what was written while the daemon was down, publishing each change.

        The state as it was at `offset` comes from the tail before it; then the new
        lines are fed one at a time, with a look at the clock between them (an approval
        wait that began and ended while we were away is still a transition).
        """
        now = utcnow()
        try:
            state, tailer = self._reader.from_tail(
                tracked.path, tracked.source, tracked.info, now, end=offset
            )
            inode = tailer.inode
            tracked.tailer = Tailer(tracked.path, offset=offset, inode=inode, line_no=None)
            lines: list[tuple[int | None, bytes]] = []
            while True:
                batch = tracked.tailer.read()
                lines.extend(batch.lines)
                if not batch.more:
                    break
        except (OSError, NotAFile) as exc:
            log.warning("cannot catch up on transcript", path=str(tracked.path), error=str(exc))
            self._load(tracked, initial=False)
            return
        tracked.state = state
        sid = tracked.session_id
        limits = self.thresholds_for(sid)
        previous: Classification | None = None
        for line_no, raw in lines:
            for record in decode_line(raw).records:
                written = tracked.source.record_time(record)
                at = min(written, now) if written is not None else (state.last_activity or now)
                if previous is not None and previous.recheck_at is not None and previous.recheck_at < at:
                    timed = classify(state, previous.recheck_at, limits)
                    if timed.status != previous.status:
                        self.apply(tracked, timed, now=previous.recheck_at, source="timer",
                                   signal_at=None)
                state.feed(record, line_no, at)
                current = classify(state, at, limits)
                if previous is None or current.status != previous.status:
                    self.apply(tracked, current, now=at, source="transcript", signal_at=None)
                previous = current
        self._note_size(tracked)
        self._evaluate(tracked, now=now, source="timer", signal_at=None)

    def _reload_document(self, tracked: TrackedFile, now: datetime) -> None:
        """Legacy whole-document transcripts are re-read whole on every change."""
        try:
            document = read_document(tracked.path)
        except DocumentError as exc:
            # Most likely caught mid-rewrite: keep the last good state, read it again on
            # the next change or sweep.
            self._warn.warn(tracked.path, "incomplete-document", str(exc))
            return
        state = tracked.source.new_state(tracked.info)
        written = tracked.source.record_time(document)
        state.feed(document, 1, min(written, now) if written else now)
        tracked.state = state

    def file_changed(self, path: Path, signal_at: float | None = None) -> None:
        """The watcher (or the sweep) saw `path` change: read what is new."""
        tracked = self.files.get(path)
        if tracked is None:
            root = self._root_of(path)
            if root is None or os.path.islink(path) or not self._inside(path, root):
                return
            root.exists = True
            self._discover(path, root, initial=False)
            return
        if tracked.quarantined:
            return
        root = self._root_of(path)
        if root is None or not self._inside(path, root):
            return  # a directory on its way became a symlink: never read through it
        now = utcnow()
        more = False
        try:
            if tracked.info.whole_document:
                self._reload_document(tracked, now)
            else:
                more = self._read_new(tracked, now)
        except NotAFile:
            self._warn.warn(path, "not-a-file", "skipping a transcript path that is not a file")
            return
        except FileNotFoundError:
            self.file_deleted(path)
            return
        except OSError as exc:
            self._read_failed(tracked, exc)
            return
        except Exception:
            # A bug in an agent's parser: count it like a classifier failure, so a file
            # that keeps failing is quarantined rather than retried forever.
            self._classifier_failed(tracked)
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
        if tracked.info.role == "compaction" and tracked.info.parent_id:
            self._compacting[tracked.info.parent_id] = now
            parent = self._main_file(tracked.info.parent_id)
            if parent is not None:
                self._evaluate(parent, now=now, source="transcript", signal_at=signal_at)
            return
        self._evaluate(tracked, now=now, source="transcript", signal_at=signal_at)

    def _read_new(self, tracked: TrackedFile, now: datetime) -> bool:
        """Read what was appended, at most `READ_SLICES` batches; True if more is waiting."""
        if tracked.state is None:
            # A cold file woke up: classify from its tail like any file at start-up.
            tracked.state, tracked.tailer = self._reader.from_tail(
                tracked.path, tracked.source, tracked.info, now
            )
            return False
        state = tracked.state
        fallback = now
        for _ in range(READ_SLICES):
            batch = tracked.tailer.read()
            if batch.reset:
                log.info("transcript truncated or replaced; reading it again", path=str(tracked.path))
                state = tracked.source.new_state(tracked.info)
                tracked.state = state
            for line_no in batch.skipped:
                self.stats.skipped_lines += 1
                self._warn.warn(tracked.path, "huge-line", "skipping a line longer than the limit",
                                line=line_no, limit_bytes=tracked.tailer.max_line)
            self._reader.feed(tracked.path, tracked.source, state, batch.lines, fallback, now)
            if not batch.more:
                return False
        return True

    def _read_failed(self, tracked: TrackedFile, exc: OSError) -> None:
        kind = "unreadable" if is_permission_error(exc) else "read-error"
        self._warn.warn(tracked.path, kind, "cannot read transcript", error=exc.strerror or str(exc))

    def _note_size(self, tracked: TrackedFile) -> None:
        try:
            st = os.stat(tracked.path)
        except OSError:
            return
        tracked.size, tracked.mtime = st.st_size, st.st_mtime
        inode = tracked.tailer.inode
        if self.offset_listener is not None and inode is not None and not tracked.info.whole_document:
            self.offset_listener(tracked.path, (inode, tracked.tailer.committed_offset))

    def file_deleted(self, path: Path) -> None:
        tracked = self.files.pop(path, None)
        self._warn.forget(path)
        if tracked is not None and self.offset_listener is not None:
            self.offset_listener(path, None)
        if tracked is None or tracked.info.role == "compaction":
            return
        sid = tracked.session_id
        if self._by_session.get(sid) != path:
            return  # another file carries this session now
        del self._by_session[sid]
        self._remove_session(sid, tracked.source.agent)

    def _remove_session(self, sid: str, agent: str) -> None:
        self._cancel_timer(sid)
        self.hooks.forget(sid)
        self._hook_files.pop(sid, None)
        self._cold.pop(sid, None)
        self._children.pop(sid, None)
        for children in self._children.values():
            children.discard(sid)
        if self.sessions.pop(sid, None) is not None:
            self._activity_published.pop(sid, None)
            self.hub.publish("removed", {"session_id": sid}, agent=agent, session_id=sid)

    def _main_file(self, session_id: str) -> TrackedFile | None:
        path = self._by_session.get(session_id)
        tracked = self.files.get(path) if path is not None else None
        if tracked is None or tracked.state is None or tracked.state.last_activity is None:
            return self._hook_files.get(session_id, tracked)  # none, cold or empty: hooks stand in
        return tracked

    # -- classification and publishing ------------------------------------------

    def thresholds_for(self, session_id: str) -> Thresholds:
        # Hooks report this session's approvals (or its parent's, for a subagent): the
        # transcript does not guess them.
        shown = self.sessions.get(session_id)
        parent = shown.parent_id if shown is not None else None
        if self.hooks.exact_approvals(session_id) or (parent and self.hooks.exact_approvals(parent)):
            return with_hook_limits(self.config.thresholds)
        return self.config.thresholds

    def _evaluate(
        self,
        tracked: TrackedFile,
        *,
        now: datetime,
        source: Source,
        signal_at: float | None,
        initial: bool = False,
    ) -> None:
        state = tracked.state
        if state is None:
            return
        if state.last_activity is None and tracked.session_id not in self.sessions:
            return  # an empty file (created, not yet written): no session until a record
        try:
            verdict = classify(state, now, self.thresholds_for(tracked.session_id))
        except Exception:
            self._classifier_failed(tracked)
            return
        tracked.failures = 0
        verdict = self._with_compaction(tracked.session_id, verdict, now)
        verdict = self._with_children(tracked.session_id, verdict)
        verdict, source = self._with_hooks(tracked, verdict, now, source)
        self.apply(tracked, verdict, now=now, source=source, signal_at=signal_at, initial=initial)

    def _with_children(self, sid: str, verdict: Classification) -> Classification:
        """A subagent's permission prompt shows in its parent's terminal: the parent waits."""
        if verdict.status != "working":
            return verdict
        for child_id in self._children.get(sid, ()):
            child = self.sessions.get(child_id)
            if child is not None and child.status == "waiting_for_approval":
                verdict.status = "waiting_for_approval"
                verdict.pending_tool = child.pending_tool
                verdict.reason = f"a subagent waits for approval ({child.reason})"
                verdict.since = child.status_since
                return verdict
        return verdict

    def _with_compaction(self, sid: str, verdict: Classification, now: datetime) -> Classification:
        started = self._compacting.get(sid)
        if started is None:
            return verdict
        if now - started >= COMPACTING_FOR:
            del self._compacting[sid]
            return verdict
        verdict.status = "working"
        verdict.reason = "compacting the conversation"
        verdict.pending_tool = None
        until = started + COMPACTING_FOR
        verdict.recheck_at = until if verdict.recheck_at is None else min(verdict.recheck_at, until)
        return verdict

    def _classifier_failed(self, tracked: TrackedFile) -> None:
        tracked.failures += 1
        log.exception("classifier failed", path=str(tracked.path), failures=tracked.failures)
        if tracked.failures >= MAX_FAILURES:
            tracked.quarantined = "its classifier failed repeatedly"
            log.error("transcript quarantined", path=str(tracked.path))

    def apply(
        self,
        tracked: TrackedFile,
        verdict: Classification,
        *,
        now: datetime,
        source: Source,
        signal_at: float | None,
        initial: bool = False,
    ) -> None:
        """Turn a classification into the session shown, publishing what changed."""
        assert tracked.state is not None
        meta = tracked.state.meta
        sid = tracked.session_id
        old = self.sessions.get(sid)
        decided_by: Source = source
        last_activity = tracked.state.last_activity or now
        if old is not None and old.last_activity > last_activity:
            last_activity = old.last_activity
        status: Status = verdict.status
        changed_status = old is None or old.status != status
        new = Session(
            id=sid,
            agent=tracked.source.agent,
            parent_id=tracked.info.parent_id or meta.parent_id,
            project=clip(meta.project, MAX_TITLE),
            cwd=meta.cwd,
            branch=clip(meta.branch, MAX_TITLE),
            title=clip(meta.title, MAX_TITLE),
            status=status,
            status_since=(verdict.since or now) if changed_status or old is None else old.status_since,
            last_activity=last_activity,
            pending_tool=verdict.pending_tool,
            reason=verdict.reason,
            source=decided_by if changed_status or old is None else old.source,
        )
        self.sessions[sid] = new
        self._arm_timer(sid, verdict.recheck_at, now)
        if new.parent_id is not None:
            self._children.setdefault(new.parent_id, set()).add(sid)
            waits = "waiting_for_approval"
            if changed_status and waits in (status, old.status if old else None):
                parent = self._main_file(new.parent_id)
                if parent is not None and parent is not tracked:
                    self._evaluate(parent, now=now, source=source, signal_at=signal_at,
                                   initial=initial)
        if initial:
            self._activity_published[sid] = new.last_activity
            return
        if old is not None and not changed_status and _shown_fields(old) == _shown_fields(new):
            published = self._activity_published.get(sid)
            if published is not None and new.last_activity - published < ACTIVITY_REFRESH:
                return
        self._publish_session(new)
        if changed_status:
            self._publish_transition(old, new, now=now, source=decided_by, signal_at=signal_at)

    def _publish_session(self, session: Session) -> None:
        self._activity_published[session.id] = session.last_activity
        self.hub.publish("session", session.to_json(), agent=session.agent, session_id=session.id)

    def _publish_transition(
        self,
        old: Session | None,
        new: Session,
        *,
        now: datetime,
        source: Source,
        signal_at: float | None,
    ) -> None:
        latency = None
        if signal_at is not None:
            latency = (asyncio.get_running_loop().time() - signal_at) * 1000
        transition = Transition(
            session_id=new.id,
            from_status=old.status if old else None,
            to_status=new.status,
            at=new.status_since,
            reason=new.reason,
            source=source,
            session=new,
            latency_ms=latency,
        )
        self.hub.publish(
            "transition",
            transition.to_json(),
            agent=new.agent,
            session_id=new.id,
            to_status=new.status,
        )
        for listener in self.transition_listeners:
            try:
                listener(transition)
            except Exception:
                log.exception("transition listener failed")
        if self.toast_listener is not None:
            # At a restart, only a recent Working→Waiting may still toast (the notifier's
            # ledger makes sure it does so once); older changes are published, not shown.
            recent = utcnow() - transition.at < RECOVER_WINDOW
            try:
                self.toast_listener(
                    transition,
                    replayed=self._replaying and not recent,
                    recovered=self._replaying and recent,
                )
            except Exception:
                log.exception("notifier failed on a transition")

    # -- timers ------------------------------------------------------------------

    def _arm_timer(self, sid: str, when: datetime | None, now: datetime) -> None:
        self._cancel_timer(sid)
        if when is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # offline use (tests of the engine without a loop)
        delay = max(0.0, (when - now).total_seconds())
        self._timers[sid] = loop.call_at(loop.time() + delay, self._on_timer, sid)

    def _cancel_timer(self, sid: str) -> None:
        handle = self._timers.pop(sid, None)
        if handle is not None:
            handle.cancel()

    def _on_timer(self, sid: str) -> None:
        self._timers.pop(sid, None)
        tracked = self._main_file(sid)
        if tracked is None:
            return
        signal = asyncio.get_running_loop().time()
        self._evaluate(tracked, now=utcnow(), source="timer", signal_at=signal)

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # -- hooks -------------------------------------------------------------------------

    def hook_event(self, agent: str, payload: JSONDict, received: float) -> None:
        """An agent's hook (POST /hooks/{agent}): the session changes at once.

        In memory only (no file is read): a hook must never keep the agent waiting.
        `received` is the loop time the request arrived, where the latency starts. A hook
        for a session with no transcript (yet) creates it; it is matched to its file
        when that appears (same engine session id, see `hooks.parse_hook`).
        """
        signal = parse_hook(agent, payload, utcnow())
        if signal is None:
            return
        sid = signal.session_id
        shown = self.sessions.get(sid)
        entry = self.hooks.record(signal, shown.status if shown is not None else None)
        tracked = self._main_file(sid)
        if tracked is None or tracked.state is None or tracked.state.last_activity is None:
            # No transcript yet (or a cold one not read, or an empty one): hooks stand in.
            if entry.overlay is None or (shown is None and entry.overlay.status == "ended"):
                return  # nothing to show: an unknown event, or the end of an unknown session
            tracked = self._hook_file(sid, entry)
            if tracked is None:
                return
        self._evaluate(tracked, now=signal.received, source="hook", signal_at=received)

    def _with_hooks(
        self, tracked: TrackedFile, verdict: Classification, now: datetime, source: Source
    ) -> tuple[Classification, Source]:
        """The transcript's verdict reconciled with the session's hook overlay."""
        sid = tracked.session_id
        hook_only = self._hook_files.get(sid) is tracked
        if not hook_only and sid in self._hook_files:
            del self._hook_files[sid]  # its transcript is read now: it takes over
        overlay = self.hooks.overlay(sid)
        if overlay is None:
            return verdict, source
        assert tracked.state is not None
        result = reconcile(None if hook_only else verdict, overlay, now,
                           self.thresholds_for(sid), tracked.state.last_activity)
        if result.expired:
            self.hooks.expire(sid)
        decided = result.classification.decided
        return result.classification, source if decided == "transcript" else decided

    def _hook_file(self, sid: str, entry: HookSession) -> TrackedFile | None:
        """The stand-in file of a session known from its hooks only."""
        tracked = self._hook_files.pop(sid, None)
        if tracked is None:
            source = next((r.source for r in self.roots if r.source.agent == entry.agent), None)
            if source is None:
                return None
            path = Path(f"<hooks>/{entry.agent}/{sid}")
            tracked = TrackedFile(path, source, FileInfo(entry.agent, sid), Tailer(path),
                                  state=HookOnlyState(sid, entry))
        self._hook_files[sid] = tracked  # most recently heard last
        while len(self._hook_files) > MAX_HOOK_ONLY:
            old_sid, old = next(iter(self._hook_files.items()))
            del self._hook_files[old_sid]
            if self._by_session.get(old_sid) is None:
                self._remove_session(old_sid, old.source.agent)
        return tracked

    # -- views -----------------------------------------------------------------------

    def snapshot(self) -> list[Session]:
        """Sessions, newest activity first."""
        return sorted(self.sessions.values(), key=lambda s: s.last_activity, reverse=True)

    def quarantined(self) -> dict[str, str]:
        return {str(t.path): t.quarantined for t in self.files.values() if t.quarantined}


def _shown_fields(session: Session) -> tuple[object, ...]:
    # `reason` names the deciding line, so it changes with nearly every line; alone it
    # is not worth an event (it travels with the next one, and /api has it at once).
    return (
        session.status,
        session.project,
        session.cwd,
        session.branch,
        session.title,
        session.pending_tool,
        session.parent_id,
    )
