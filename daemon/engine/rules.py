"""The engine's rules over one session's classification: pure functions, no I/O.

An agent's own rules (`sources/`) classify one transcript. These add what only the
engine can see: a compaction transcript being written keeps its parent working, a
subagent's permission prompt makes its parent wait, and how a classification becomes
the `Session` shown (and whether that change is worth an event).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from sessiond.protocol import MAX_TITLE, Decision, Session, Source, Terminal, clip
from sessiond.sources.base import Classification, SessionMeta

# After the last write to a compaction transcript the parent counts as compacting.
COMPACTING_FOR = timedelta(seconds=5)
# `last_activity` alone changes with every line; publish it at most this often.
ACTIVITY_REFRESH = timedelta(seconds=5)


def with_compaction(
    verdict: Classification, compacting_since: datetime | None, now: datetime
) -> Classification:
    """While a compaction transcript is being written, the session is working."""
    if compacting_since is None or now - compacting_since >= COMPACTING_FOR:
        return verdict
    until = compacting_since + COMPACTING_FOR
    return replace(
        verdict,
        status="working",
        reason="compacting the conversation",
        pending_tool=None,
        recheck_at=until if verdict.recheck_at is None else min(verdict.recheck_at, until),
    )


def with_children(verdict: Classification, children: Iterable[Session]) -> Classification:
    """A subagent's permission prompt shows in its parent's terminal: the parent waits."""
    if verdict.status != "working":
        return verdict
    for child in children:
        if child.status == "waiting_for_approval":
            return replace(
                verdict,
                status="waiting_for_approval",
                pending_tool=child.pending_tool,
                reason=f"a subagent waits for approval ({child.reason})",
                since=child.status_since,
            )
    return verdict


def session_from(
    old: Session | None,
    verdict: Classification,
    *,
    session_id: str,
    agent: str,
    parent_id: str | None,
    meta: SessionMeta,
    last_activity: datetime | None,
    now: datetime,
    source: Source,
    decision: Decision | None = None,
    terminal: Terminal | None = None,
    terminal_note: str = "",
    host: str = "",
) -> Session:
    """The session to show after `verdict`: status time and source kept unless it changed."""
    seen = last_activity or now
    if old is not None and old.last_activity > seen:
        seen = old.last_activity
    changed = old is None or old.status != verdict.status
    return Session(
        id=session_id,
        agent=agent,  # type: ignore[arg-type]  # an AgentSource's agent is an Agent
        parent_id=parent_id or meta.parent_id,
        project=clip(meta.project, MAX_TITLE),
        cwd=meta.cwd,
        branch=clip(meta.branch, MAX_TITLE),
        title=clip(meta.title, MAX_TITLE),
        status=verdict.status,
        status_since=(verdict.since or now) if changed or old is None else old.status_since,
        last_activity=seen,
        pending_tool=verdict.pending_tool,
        reason=verdict.reason,
        source=source if changed or old is None else old.source,
        decision=decision,
        terminal=terminal,
        terminal_note=terminal_note,
        host=host,
    )


# A decision answered by typing the agent's own prompt keys into its terminal (Codex).
KEYS_DECISION = "keys-"
KEYS_DECISION_LIFETIME = timedelta(hours=1)


def keys_decision(session: Session, has_keys: bool) -> Decision | None:
    """An approval prompt that can be answered by typing its keys (the agent has them, and
    its terminal takes input). Its id names this wait, so an answer meant for an earlier
    prompt never answers a later one."""
    terminal = session.terminal
    if not has_keys or session.status != "waiting_for_approval" or terminal is None or not terminal.can_send:
        return None
    since = session.status_since
    wait = hashlib.sha256(f"{session.id}\0{since.isoformat()}\0{terminal.pid}".encode()).hexdigest()[:16]
    return Decision(KEYS_DECISION + wait, since=since, expires=since + KEYS_DECISION_LIFETIME)


def worth_an_event(old: Session | None, new: Session, activity_published: datetime | None) -> bool:
    """Does `new` differ from `old` in what a client shows (or is its activity overdue)?

    `reason` names the deciding line, so it changes with nearly every line; alone it is
    not worth an event (it travels with the next one, and /api has it at once). So is
    `terminal_note` (why no terminal is known): a terminal found or lost is an event.
    """
    if old is None or old.status != new.status or shown_fields(old) != shown_fields(new):
        return True
    return activity_published is None or new.last_activity - activity_published >= ACTIVITY_REFRESH


def shown_fields(session: Session) -> tuple[object, ...]:
    return (
        session.status,
        session.project,
        session.cwd,
        session.branch,
        session.title,
        session.pending_tool,
        session.parent_id,
        session.decision,
        session.terminal,
    )
