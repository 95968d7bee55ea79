"""What may be typed into an agent's terminal: pure checks shared by the API and toasts."""

from __future__ import annotations

from sessiond.protocol import WAITING, Session

# A reply is a prompt or an answer, not a file: long enough for a paragraph.
MAX_INPUT_CHARS = 8192


def text_problem(text: object) -> str | None:
    """Why this text may not be typed (None: it may). Typed literally, one line: a newline
    would submit half of it, an escape would drive the agent's UI."""
    if not isinstance(text, str):
        return 'Send {"text": "…", "enter": true}.'
    if len(text) > MAX_INPUT_CHARS:
        return f"The text is longer than {MAX_INPUT_CHARS} characters."
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        return ("The text has control characters (a newline, an escape...): send one line; "
                '"enter": true presses Enter after it.')
    return None


def session_problem(session: Session) -> str | None:
    """Why nothing may be typed into this session's terminal now (None: it may)."""
    if session.status not in WAITING:
        return (f"The agent is {session.status.replace('_', ' ')}: sessiond types only into an "
                "agent that waits.")
    return None
