"""What a toast says: pure text, from a session (titles, bodies, the size of a change)."""

from __future__ import annotations

from sessiond.protocol import JSONDict, Session, Status, clip
from sessiond.sources import display_name
from sessiond.sources.base import project_name

MAX_TOAST_TITLE = 100
MAX_TOAST_BODY = 200


def project_of(session: Session) -> str:
    return session.project or project_name(session.cwd)


def where(session: Session) -> str:
    name = project_of(session) or display_name(session.agent)
    return f"{name} ({session.branch})" if session.branch else name


def change_size(tool: str, given: JSONDict | None) -> str:
    """" (−3 +5 lines)" for an edit, " (40 lines)" for a new file: enough to decide on."""
    if not given:
        return ""

    def lines(value: object) -> int:
        return len(value.splitlines()) if isinstance(value, str) else 0

    if tool == "Write":
        return f" ({lines(given.get('content'))} lines)"
    if tool == "Edit":
        return f" (−{lines(given.get('old_string'))} +{lines(given.get('new_string'))} lines)"
    if tool == "MultiEdit" and isinstance(given.get("edits"), list):
        edits = [e for e in given["edits"] if isinstance(e, dict)]
        old = sum(lines(e.get("old_string")) for e in edits)
        new = sum(lines(e.get("new_string")) for e in edits)
        return f" ({len(edits)} edits, −{old} +{new} lines)"
    return ""


def toast_text(session: Session, status: Status) -> tuple[str, str]:
    """Title and body: "Needs approval — myapp (main)" / "Bash: git push origin main"."""
    agent = display_name(session.agent)
    tool = session.pending_tool
    if status == "waiting_for_approval":
        title = f"Needs approval — {where(session)}"
        if tool and tool.name:
            body = f"{tool.name}: {tool.summary}" if tool.summary else tool.name
            body += change_size(tool.name, tool.input)
        else:
            body = f"{agent} asks for permission to go on"
    else:
        title = f"Waiting for you — {where(session)}"
        # A question the agent asked (AskUserQuestion) reads best as itself.
        if tool and tool.summary:
            body = tool.summary
        elif session.title:
            body = f"{agent} finished its turn on “{session.title}”"
        else:
            body = f"{agent} finished its turn"
    return clip(title, MAX_TOAST_TITLE), clip(body, MAX_TOAST_BODY)


