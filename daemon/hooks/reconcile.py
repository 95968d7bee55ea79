"""Agents' hooks: the fast, exact path, and how it is reconciled with the transcripts.

Pure code, no I/O: `parse_hook()` maps one agent's hook payload (shared/docs/agent-hooks.md
§1.5, §2.1–2.2, §3, §4) to a small `HookSignal`; `HookBook` keeps, per session, the
latest hook-implied status (a `HookOverlay`); `reconcile()` merges that overlay with
what the transcript says. The engine glues them together (`Engine.hook_event`).

A hook and the transcript line that follows it describe ONE change, so at most one
transition is published for it, by whichever path reports it first. The rules deciding
which of the two stands are in `reconcile()` and `next_overlay()`; in short:

- hooks win for approval: a permission prompt is known at once from a hook and never
  written to a transcript;
- the transcript covers what fires no hook: an Esc interrupt, a lost hook, a daemon
  started mid-turn, a transcript line written after the hook (newer evidence);
- a session whose agent reports approvals by hook does not guess them from the
  transcript (`HookBook.exact_approvals`, used by `Engine.thresholds_for`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sessiond.protocol import (
    MAX_ID,
    MAX_REASON,
    MAX_TITLE,
    Agent,
    PendingTool,
    Source,
    Status,
    clip,
    duration_text,
)
from sessiond.sources import plugins
from sessiond.sources.base import (
    Classification,
    SessionMeta,
    Thresholds,
    Verdict,
    project_name,
)
from sessiond.sources.plugin import text as _text

# A transcript line stamped less than this after a hook that ended a turn
# (Stop, AfterAgent, notify, SessionEnd...) is taken to belong to that same turn: the
# final text of a reply can be flushed after the Stop hook fired (agent-formats.md
# §1.7, "the final assistant text line is not yet flushed"), and its "still writing"
# verdict must not turn the session back to working.
TURN_END_SLACK = timedelta(seconds=1)
# Sessions the book keeps (overlays, titles) and hook-only sessions the engine shows;
# the least recently heard are forgotten first.
MAX_BOOK = 4096
MAX_HOOK_ONLY = 256
# Distinct (agent, event) metric labels; anything beyond is counted as "other".
MAX_LABELS = 128
# Longer paths than this are not real ones: the payload names no place. (Ids: protocol.MAX_ID.)
MAX_PATH = 4096

_LABEL = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True, slots=True)
class HookSignal:
    """What one hook payload says, in sessiond's words."""

    agent: Agent
    # The engine's id for the session (Gemini: the 8 characters its chat file is named
    # after; Codex: the thread id, lower case; Claude: session_id; Cursor: conversation_id).
    session_id: str
    event: str  # the event name as the agent sent it ("hook" when not a plain name)
    # The status it implies; None: no transition (SubagentStop, unknown events...).
    status: Status | None
    reason: str
    received: datetime
    pending_tool: PendingTool | None = None
    cwd: str = ""
    transcript_path: str = ""
    prompt: str = ""
    # A permission prompt: holds until the tool's result, an interrupt, or a newer hook.
    sticky: bool = False
    # Only applies to a session shown as working (idle_prompt).
    only_if_working: bool = False
    # Claude's agent_id inside a subagent: the thread the event comes from ("" = main).
    thread: str = ""

    @property
    def approval(self) -> bool:
        return self.status == "waiting_for_approval"


@dataclass(frozen=True, slots=True)
class HookOverlay:
    """The latest hook-implied status of one session, until the transcript supersedes it."""

    agent: Agent
    status: Status
    reason: str
    at: datetime  # when the daemon received the hook (wall clock)
    event: str
    pending_tool: PendingTool | None = None
    sticky: bool = False
    thread: str = ""


@dataclass(slots=True)
class HookSession:
    """What the hooks told about one session (the title and place of a hook-only session)."""

    agent: Agent
    last_at: datetime
    cwd: str = ""
    title: str = ""
    transcript_path: str = ""
    overlay: HookOverlay | None = None


@dataclass(frozen=True, slots=True)
class Reconciled:
    classification: Classification
    # The overlay was superseded by newer transcript evidence: drop it.
    expired: bool = False


# -- parsing -------------------------------------------------------------------------


def event_label(agent: str, payload: Mapping[str, Any]) -> str:
    """The event name as a bounded metrics label: [A-Za-z0-9_] only, else "other"."""
    name = _event_name(agent, payload)
    name = name.replace("-", "_").replace(".", "_")  # OpenCode's are dotted: permission.asked
    return name if _LABEL.fullmatch(name) else "other"


def _event_name(agent: str, payload: Mapping[str, Any]) -> str:
    name = payload.get("hook_event_name")
    if isinstance(name, str) and name:
        return name
    kind = payload.get("type")  # Codex's legacy `notify` payload
    if isinstance(kind, str) and kind:
        return kind
    return ""


def parse_hook(agent: str, payload: Mapping[str, Any], received: datetime) -> HookSignal | None:
    """One hook payload as a signal; None when it names no session (or no known agent).

    The agent's own plugin (`sources/<agent>/hooks.py`) maps the event to a status.

    Unknown events and fields are accepted and ignored: they give a signal with no
    status, which still marks the session as one whose hooks are seen.
    """
    if agent == "claude" and "conversation_id" in payload and "session_id" not in payload:
        agent = "cursor"  # Cursor runs Claude's user hooks too (agent-hooks.md §4)
    plugin = plugins().get(agent)
    if plugin is None:
        return None
    who = plugin.agent
    event = _event_name(agent, payload)
    sid = plugin.session_key(payload)
    if not sid or len(sid) > MAX_ID:
        return None
    status, reason, extra = plugin.map_hook(event, payload)
    prompt = _text(payload.get("prompt"))
    if who == "codex" and not prompt:
        messages = payload.get("input-messages")
        if isinstance(messages, list) and messages:
            prompt = _text(messages[0])
    cwd = _text(payload.get("cwd"))
    if who == "cursor" and not cwd:
        roots = payload.get("workspace_roots")
        if isinstance(roots, list) and roots:
            cwd = _text(roots[0])
    label = event if _LABEL.fullmatch(event.replace("-", "_").replace(".", "_")) else "hook"
    return HookSignal(
        agent=who,
        session_id=sid,
        event=label,
        status=status,
        reason=clip(f"{label} hook: {reason}", MAX_REASON) if status else "",
        received=received,
        pending_tool=extra.get("tool"),
        cwd=_bounded(cwd, MAX_PATH),
        transcript_path=_bounded(_text(payload.get("transcript_path")), MAX_PATH),
        prompt=clip(prompt, MAX_TITLE),
        sticky=status == "waiting_for_approval",
        only_if_working=bool(extra.get("only_if_working")),
        thread=_bounded(_text(payload.get("agent_id")), MAX_ID),
    )


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else ""


# -- the overlay and the rules -----------------------------------------------------------


def next_overlay(
    current: HookOverlay | None, status_now: Status | None, signal: HookSignal
) -> HookOverlay | None:
    """The overlay after `signal`, given the overlay and the status shown so far.

    Returns `current` itself when the signal changes nothing. Rules:
    1. A signal with no status (SubagentStop, SessionStart:compact, unknown events)
       changes nothing: a subagent finishing never ends its parent's turn.
    2. `only_if_working` signals (idle_prompt) apply only to a session shown as
       working: a repeated idle_prompt, or one after Stop, adds no transition, and one
       never turns `idle` back into waiting.
    3. A permission prompt already shown is not restarted by a second report of it
       (Notification permission_prompt ~6 s after PermissionRequest): the first keeps
       its time and its tool.
    4. A permission prompt from one thread (the main agent, or one subagent) is not
       cleared by "working" news from another thread: parallel subagents keep running
       while one of them waits for the user.
    5. Anything else replaces the overlay, received now.
    """
    if signal.status is None:
        return current
    if signal.only_if_working and status_now not in (None, "working"):
        return current
    if signal.approval and status_now == "waiting_for_approval" and current is not None and current.sticky:
        return current
    if (
        current is not None
        and current.sticky
        and signal.status == "working"
        and signal.thread != current.thread
    ):
        return current
    tool = signal.pending_tool
    if signal.approval and tool is None and current is not None:
        tool = current.pending_tool  # permission_prompt names no tool: the PreToolUse's
    return HookOverlay(
        agent=signal.agent,
        status=signal.status,
        reason=signal.reason,
        at=signal.received,
        event=signal.event,
        pending_tool=tool if signal.status in ("working", "waiting_for_approval", "waiting_for_input")
        else None,
        sticky=signal.sticky,
        thread=signal.thread,
    )


def superseded(transcript: Classification, overlay: HookOverlay) -> bool:
    """Whether the transcript's verdict is newer evidence than the hook's.

    The transcript's `since` is the time of the line that decided its verdict (as written
    by the agent), the overlay's `at` when the hook reached the daemon. Rules:
    1. A transcript verdict whose deciding line is not later than the hook never
       supersedes it: the hook is the newer news (the transcript lags the turn). Lines
       are stamped in whole milliseconds; one that ends a permission prompt counts from
       the hook's own millisecond on (it cannot come before the prompt it ends).
    2. A permission prompt (sticky) stays until the transcript shows it is over: the
       turn ended or was interrupted (`[Request interrupted by user…]`, Esc fires no
       hook), the session ended, or the model works on with the tool no longer pending
       (its result was written). `idle` never clears it: a stale "working" says nothing
       about a prompt on screen. Claude and Gemini name tools alike on both paths;
       Codex does not (hook "Bash", transcript "exec_command"), so for Codex any
       pending tool counts as the one asked about.
    3. Otherwise a newer deciding line wins, except that "working" must be stamped at
       least TURN_END_SLACK after a hook that ended the turn or the session (the final
       reply can be flushed after the Stop hook, and is not a new turn).
    4. `idle` from the transcript never supersedes: the overlay has its own idle rule,
       counted from the later of the hook and the last transcript write.
    """
    since = transcript.since
    if since is None:
        return False
    status = transcript.status
    if overlay.sticky and status in ("waiting_for_input", "ended"):
        # Agents stamp lines in whole milliseconds: a line stamped in the hook's own
        # millisecond may follow it, and one that ends the prompt cannot precede it.
        return since >= overlay.at.replace(microsecond=overlay.at.microsecond // 1000 * 1000)
    if since <= overlay.at or status == "idle":
        return False
    if overlay.sticky:
        if status == "working":
            if overlay.thread:
                return False  # a subagent's prompt: the parent's file shows only its Task
            return not _same_tool(overlay, transcript.pending_tool)
        return False
    if status == "working" and overlay.status in ("waiting_for_input", "ended"):
        return since > overlay.at + TURN_END_SLACK
    return True


def _same_tool(overlay: HookOverlay, pending: PendingTool | None) -> bool:
    if pending is None:
        return False
    asked = overlay.pending_tool
    if asked is None or overlay.agent == "codex":
        return True
    return asked.name == pending.name


def from_overlay(
    overlay: HookOverlay, now: datetime, limits: Thresholds, last_activity: datetime | None
) -> Classification:
    """The overlay as a classification, with the common idle rules.

    Idle counts from the later of the hook and the last transcript write: waiting for
    input goes idle after `idle_after`, working after `stale_after`; a permission
    prompt and an ended session never do (as from the transcript alone).
    """
    base = overlay.at if last_activity is None else max(overlay.at, last_activity)
    status: Status = overlay.status
    reason, since, recheck = overlay.reason, overlay.at, None
    decided: Source = "hook"
    limit = {"waiting_for_input": limits.idle_after, "working": limits.stale_after}.get(status)
    if limit is not None:
        idle_at = base + limit
        if now >= idle_at:
            was = "waiting for input" if status == "waiting_for_input" else "was working"
            status, since, decided = "idle", idle_at, "timer"
            reason = f"{was} ({overlay.event} hook), quiet for {duration_text(now - base)}"
        else:
            recheck = idle_at
    return Classification(
        status=status,
        reason=reason,
        since=since,
        pending_tool=overlay.pending_tool if status in ("working", "waiting_for_approval") else None,
        recheck_at=recheck,
        decided=decided,
    )


def reconcile(
    transcript: Classification | None,
    overlay: HookOverlay | None,
    now: datetime,
    limits: Thresholds,
    last_activity: datetime | None = None,
) -> Reconciled:
    """One session's status from its transcript's verdict and its hook overlay.

    `transcript` is None for a session known from hooks only. The result's `decided`
    says which path decided: "hook", "transcript" (kept from the input) or "timer"
    (an idle deadline of the overlay).
    """
    if overlay is None:
        assert transcript is not None
        return Reconciled(transcript)
    if transcript is not None and superseded(transcript, overlay):
        return Reconciled(transcript, expired=True)
    merged = from_overlay(overlay, now, limits, last_activity)
    if transcript is not None and transcript.recheck_at is not None:
        # The transcript's own deadlines (settle, approval guess) may still change it.
        merged.recheck_at = (
            transcript.recheck_at
            if merged.recheck_at is None
            else min(merged.recheck_at, transcript.recheck_at)
        )
    return Reconciled(merged)



# -- the book: every session's hook state --------------------------------------------------


@dataclass(slots=True)
class HookBook:
    """The hooks' side of every session, bounded; plus what `hooks status` reports."""

    sessions: OrderedDict[str, HookSession] = field(default_factory=OrderedDict)
    # The last time each agent's hooks were heard from (wall clock).
    heard: dict[str, datetime] = field(default_factory=dict)
    # Agents whose hooks have reported a permission prompt since the daemon started:
    # their hooks are installed with the approval events, so approvals are exact.
    approval_agents: set[str] = field(default_factory=set)
    max_sessions: int = MAX_BOOK

    def record(self, signal: HookSignal, status_now: Status | None) -> HookSession:
        """Note a signal; returns the session's entry (its overlay updated)."""
        entry = self.sessions.get(signal.session_id)
        if entry is None:
            entry = HookSession(agent=signal.agent, last_at=signal.received)
            self.sessions[signal.session_id] = entry
            while len(self.sessions) > self.max_sessions:
                self.sessions.popitem(last=False)
        else:
            self.sessions.move_to_end(signal.session_id)
        entry.last_at = max(entry.last_at, signal.received)
        entry.cwd = signal.cwd or entry.cwd
        entry.title = entry.title or signal.prompt
        entry.transcript_path = signal.transcript_path or entry.transcript_path
        entry.overlay = next_overlay(entry.overlay, status_now, signal)
        self.heard[signal.agent] = signal.received
        if signal.approval:
            self.approval_agents.add(signal.agent)
        return entry

    def overlay(self, session_id: str) -> HookOverlay | None:
        entry = self.sessions.get(session_id)
        return entry.overlay if entry is not None else None

    def expire(self, session_id: str) -> None:
        """The transcript superseded the overlay: from now on it decides alone."""
        entry = self.sessions.get(session_id)
        if entry is not None:
            entry.overlay = None

    def forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    def exact_approvals(self, session_id: str) -> bool:
        """Hooks are seen for this session and its agent reports permission prompts.

        Then the transcript's approval guess (a pending tool with no progress for
        `approval_after`) is not made: the hook says it exactly and at once. An agent
        whose hooks never reported a prompt (Codex with only `notify`, an old Claude
        Code without PermissionRequest) keeps the guess.
        """
        entry = self.sessions.get(session_id)
        return entry is not None and entry.agent in self.approval_agents


class HookOnlyState:
    """The `TranscriptState` of a session known from its hooks only (no file yet).

    It holds no records: its verdict is neutral and the overlay decides (`reconcile`
    with no transcript). Meta comes from the hooks: project from cwd, title from the
    first prompt.
    """

    def __init__(self, session_id: str, entry: HookSession) -> None:
        self._sid = session_id
        self._entry = entry

    @property
    def meta(self) -> SessionMeta:
        cwd = self._entry.cwd
        return SessionMeta(session_id=self._sid, cwd=cwd, project=project_name(cwd),
                           title=self._entry.title)

    @property
    def last_activity(self) -> datetime | None:
        return self._entry.last_at

    def feed(self, record: dict[str, Any], line_no: int | None, at: datetime) -> None:
        return None

    def has_basis(self) -> bool:
        return True

    def verdict(self, now: datetime, limits: Thresholds) -> Verdict:
        return Verdict("waiting_for_input", "known from its hooks only", since=None)


def with_hook_limits(limits: Thresholds) -> Thresholds:
    """The thresholds of a session whose approvals come from hooks."""
    return replace(limits, infer_approval=False)
