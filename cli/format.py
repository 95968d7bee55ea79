"""Terminal rendering: `sessiond status`, and the one filter for text from outside.

Everything the CLI prints that came from a transcript, a hook or a client (titles,
session ids, reasons, project names, a health detail) goes through `terminal_text`: a
terminal obeys escape sequences, so a title could otherwise set the window title, clear
the screen or reorder what it shows (bidirectional overrides).
"""

from __future__ import annotations

from datetime import datetime, timedelta

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


# Sessions quiet for longer are hidden unless `--all`.
HIDE_AFTER = timedelta(days=1)


def _hidden(session: Session, now: datetime) -> bool:
    return session.status in ("idle", "ended") and now - session.last_activity > HIDE_AFTER


def render_status(health: Health, sessions: list[Session], *, now: datetime, width: int | None = None,
                  show_all: bool = False) -> str:
    """The status table; `width`: the terminal's columns (rows are cut to fit, the branch
    before the title); sessions idle for over a day are counted, not listed, unless
    `show_all`."""
    lines = [
        f"sessiond {health.version} (pid {health.pid}): {health.status}, "
        f"{health.sessions} sessions, {health.clients} clients"
    ]
    for name, component in sorted(health.components.items()):
        if component.status != "ok":
            lines.append(f"  {terminal_text(name)}: {terminal_text(component.status)} "
                         f"({terminal_text(component.detail)})")
    top = [s for s in sessions if s.parent_id is None]
    hidden = 0 if show_all else sum(1 for s in top if _hidden(s, now))
    if not show_all:
        top = [s for s in top if not _hidden(s, now)]
    if not top:
        lines.append("No agent sessions found yet." if not hidden else "No session active within a day.")
        if hidden:
            lines.append(f"{hidden} quiet for over a day (--all shows them).")
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
    branch = columns - 1
    if width is not None:
        # Too wide: the branch gives way first (down to 8), then the title is cut.
        over = sum(widths) + 2 * columns + len(rows[0][columns]) - width
        if over > 0:
            widths[branch] = max(8, widths[branch] - over)
    for r in rows:
        cells = [c if len(c) <= w else c[: max(0, w - 1)] + "…"
                 for c, w in zip(r[:columns], widths, strict=True)]
        line = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + r[columns]
        if width is not None and len(line) > width:
            line = line[: max(0, width - 1)] + "…"
        lines.append(line)
    if hidden:
        lines.append(f"{hidden} more quiet for over a day (--all shows them).")
    if any("(likely: no hooks)" in s.reason for s in top):
        lines.append("Approval waits marked 'likely' are guessed from the transcript; "
                     "`sessiond hooks install` makes them exact.")
    return "\n".join(lines)
