"""The small interface every agent format implements, and the rules they share.

An agent module (claude.py, codex.py, ...) provides one `AgentSource`:
- `roots(env, home)`: the directories its transcripts live under;
- `identify(path, root)`: whether a file under a root is one of its transcripts, and
  which session (and parent session) it belongs to;
- `new_state(info)`: a fresh `TranscriptState` for that file.

A `TranscriptState` is a pure accumulator: the I/O shell feeds it parsed records in file
order with the time each was written, and asks it for a `Verdict` at a given `now`. It
never reads files, never looks at the wall clock and never sleeps, so the same code
serves the live daemon, `sessiond inspect`, replays and property tests.

`classify()` below wraps a state's own verdict with the rules common to every agent
(idle after a quiet wait, stale work), so all agents speak the same status words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from sessiond.protocol import MAX_REASON, Agent, JSONDict, PendingTool, Source, Status, clip, duration_text

FileRole = Literal["session", "subagent", "compaction"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Time limits of the classifiers; the daemon's config fills them in."""

    # A pending tool that can prompt, with no execution evidence for this long, is
    # taken to be waiting for the user's approval.
    approval_after: timedelta = timedelta(seconds=4)
    # waiting_for_input this long without writes becomes idle.
    idle_after: timedelta = timedelta(minutes=15)
    # working with no writes at all for this long becomes idle (the process may be gone).
    stale_after: timedelta = timedelta(minutes=10)
    # A reply that might be the end of a turn (Gemini text without tool calls, Claude
    # text whose stop_reason is still null) counts as the end once the file has been
    # quiet this long. Replaying the corpus, 2 s gave 21 false mid-turn "turn ended"
    # flips (each a false toast), 10 s gives 4; Stop hooks make it exact and instant.
    settle_after: timedelta = timedelta(seconds=10)
    # False when the session's hooks report approvals exactly: then a pending tool is
    # simply working, and the approval guess is not made at all.
    infer_approval: bool = True


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What a source learns about a transcript from its path alone."""

    agent: Agent
    session_id: str
    role: FileRole = "session"
    # The parent session of a subagent or compaction file, when the path tells it.
    # (Claude 2.0.x subagent files sit beside the sessions; their parent comes from
    # the content instead: see `SessionMeta.parent_id`.)
    parent_id: str | None = None
    # A file rewritten whole on every change (legacy Gemini `session-*.json`): re-read
    # and re-parse it each time instead of tailing it.
    whole_document: bool = False


@dataclass(slots=True)
class SessionMeta:
    """What a transcript says about its session, besides its status."""

    session_id: str | None = None
    parent_id: str | None = None
    cwd: str = ""
    project: str = ""
    branch: str = ""
    title: str = ""
    # The user's last prompt and the agent's last reply text (for the panel's detail view).
    last_prompt: str = ""
    last_reply: str = ""


# How much of the last prompt and reply is kept (shown in the detail view, as text).
MAX_EXCERPT = 2000


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    # One short sentence naming the line that decided, e.g.
    # "line 67: ExitPlanMode pending 5 s, no progress".
    reason: str
    # When the status began, as far as the transcript tells (the deciding line's time).
    since: datetime | None = None
    pending_tool: PendingTool | None = None
    # The earliest time at which this verdict may change with no new input (an
    # approval guess, a settle time, idle...). The daemon arms a timer for it.
    recheck_at: datetime | None = None


class TranscriptState(Protocol):
    """Per-file accumulator: records in, verdict out. No I/O, no clock."""

    @property
    def meta(self) -> SessionMeta: ...

    @property
    def last_activity(self) -> datetime | None:
        """The time of the newest record fed (the `at` passed to `feed`)."""
        ...

    def feed(self, record: JSONDict, line_no: int | None, at: datetime) -> None:
        """Take one parsed JSON object, in file order.

        `line_no` is the 1-based line number when the shell knows it (None when the
        daemon started reading from the tail of a large file). `at` is when the line was
        written: its own timestamp offline, its arrival time live.
        """
        ...

    def has_basis(self) -> bool:
        """True once the records fed are enough to decide (a meaningful last line).

        The daemon reads old files backwards in blocks until this is true.
        """
        ...

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        """The agent-specific status as of `now` (without the common idle rules)."""
        ...


class AgentSource(Protocol):
    agent: Agent

    def roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Directories to watch (they may not exist yet)."""
        ...

    def identify(self, path: Path, root: Path) -> FileInfo | None:
        """Is `path` (somewhere under `root`) one of this agent's transcripts?"""
        ...

    def new_state(self, info: FileInfo) -> TranscriptState: ...

    def record_time(self, record: JSONDict) -> datetime | None:
        """The time a record says it was written, if it says (used offline and at
        start-up; live, the daemon uses the arrival time instead)."""
        ...

    def recognises(self, record: JSONDict) -> bool:
        """Does this record look like this agent's format? (For `inspect` and for
        telling a stray file of another agent apart.)"""
        ...


@runtime_checkable
class MirroredSource(Protocol):
    """A source whose agent keeps no append-only log (OpenCode): sessiond writes one, a
    mirror, under its own state dir, and the engine follows that."""

    def mirror_root(self, state_dir: Path) -> Path: ...


def watched_roots(source: AgentSource, env: Mapping[str, str], home: Path, state_dir: Path) -> list[Path]:
    """The folders the engine follows for a source: its agent's own, and its mirror's."""
    paths = list(source.roots(env, home))
    if isinstance(source, MirroredSource):
        paths.append(source.mirror_root(state_dir))
    return paths


@dataclass(slots=True)
class Classification:
    """A verdict after the common rules, ready to become a Session's status."""

    status: Status
    reason: str
    since: datetime | None
    pending_tool: PendingTool | None
    recheck_at: datetime | None
    # Which path decided: the transcript, a timer's deadline, or a hook (`hooks.reconcile`).
    decided: Source = "transcript"


def classify(state: TranscriptState, now: datetime, limits: Thresholds) -> Classification:
    """The status of one transcript as of `now`: the agent's verdict plus idle rules.

    Pure: the same state, `now` and limits always give the same answer.
    """
    v = state.verdict(now, limits)
    last = state.last_activity
    recheck = v.recheck_at
    status, reason, since = v.status, v.reason, v.since
    if last is not None and status == "waiting_for_input":
        idle_at = last + limits.idle_after
        if now >= idle_at:
            status = "idle"
            reason = f"waiting for input, quiet for {duration_text(now - last)}"
            since = idle_at
        else:
            recheck = _earliest(recheck, idle_at)
    elif last is not None and status == "working":
        stale_at = last + limits.stale_after
        if now >= stale_at:
            status = "idle"
            reason = f"was working, but nothing written for {duration_text(now - last)}"
            since = stale_at
        else:
            recheck = _earliest(recheck, stale_at)
    return Classification(
        status=status,
        # Reasons quote transcript text (tool names, error messages): bounded here,
        # once for every agent.
        reason=clip(reason, MAX_REASON),
        since=since,
        # Waiting for input keeps a pending tool too: it is the question asked
        # (AskUserQuestion), which the panel and the toast show.
        pending_tool=v.pending_tool if status not in ("idle", "ended") else None,
        recheck_at=recheck,
    )


def parts_under(path: Path, root: Path) -> tuple[str, ...] | None:
    """The parts of `path` below `root`, or None when it does not lie under it."""
    try:
        return path.relative_to(root).parts
    except ValueError:
        return None


def line_ref(line_no: int | None) -> str:
    """`line 67` when the line number is known, `last line` style text otherwise."""
    return f"line {line_no}" if line_no is not None else "a recent line"


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a



def project_name(cwd: str) -> str:
    """The name shown to people: the last part of the working directory."""
    stripped = cwd.rstrip("/\\")
    if not stripped:
        return ""
    return stripped.replace("\\", "/").rsplit("/", 1)[-1]
