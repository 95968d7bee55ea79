"""Terminal rendering: `sessiond status`, and the one filter for text from outside.

Everything the CLI prints that came from a transcript, a hook or a client (titles,
session ids, reasons, project names, a health detail) goes through `terminal_text`: a
terminal obeys escape sequences, so a title could otherwise set the window title, clear
the screen or reorder what it shows (bidirectional overrides).
"""

from __future__ import annotations

from datetime import datetime

from sessiond.protocol import Health, Session, bound


def terminal_text(value: object, limit: int = 4096) -> str:
    """`value` as one safe line: control, escape and bidi characters become U+FFFD."""
    return bound(value if isinstance(value, str) else str(value), limit)

_LABELS = {
    "waiting_for_approval": "NEEDS APPROVAL",
    "waiting_for_input": "waiting for you",
    "working": "working",
    "idle": "idle",
    "ended": "ended",
}


def ago(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def render_status(health: Health, sessions: list[Session], *, now: datetime) -> str:
    lines = [
        f"sessiond {health.version} (pid {health.pid}): {health.status}, "
        f"{health.sessions} sessions, {health.clients} clients"
    ]
    for name, component in sorted(health.components.items()):
        if component.status != "ok":
            lines.append(f"  {terminal_text(name)}: {terminal_text(component.status)} "
                         f"({terminal_text(component.detail)})")
    top = [s for s in sessions if s.parent_id is None]
    if not top:
        lines.append("No agent sessions found yet.")
        return "\n".join(lines)
    # Several machines on the board (a bus): which one each session runs on.
    hosts = len({s.host for s in top}) > 1
    rows = [("STATUS", "FOR", *(("HOST",) if hosts else ()), "AGENT", "PROJECT", "BRANCH", "TITLE / PENDING")]
    for s in sorted(top, key=lambda s: s.last_activity, reverse=True):
        detail = s.title
        if s.pending_tool is not None:
            detail = f"{s.pending_tool.name}: {s.pending_tool.summary}"
        label = _LABELS.get(s.status, s.status) + (" (offline)" if s.offline else "")
        host = (terminal_text(s.host) or "-",) if hosts else ()
        rows.append((label, ago(s.status_since, now), *host, terminal_text(s.agent),
                     terminal_text(s.project) or "?", terminal_text(s.branch), terminal_text(detail)[:60]))
    columns = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) for i in range(columns)]
    for r in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(r[:columns], widths, strict=True))
        lines.append(f"{cells}  {r[columns]}")
    return "\n".join(lines)
