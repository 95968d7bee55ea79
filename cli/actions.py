"""Acting on a wait from the terminal: `sessiond approve ID [--deny] [--message TEXT]`,
`sessiond focus ID` (bring the agent's terminal to the front) and `sessiond send ID TEXT`
(type a line into it, then Enter).

ID may be any unique prefix of a session id (as `sessiond status --json` shows them).
Exit 0 once the agent has the answer; 1 with one sentence otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sessiond.cli.format import terminal_text
from sessiond.cli.settings import fail, load_config
from sessiond.client import DaemonUnavailable, Endpoint, find_daemon, get_sessions, request
from sessiond.protocol import Session


def register(group: click.Group) -> None:
    group.add_command(approve)
    group.add_command(focus)
    group.add_command(send)


def resolve(endpoint: Endpoint, prefix: str) -> Session:
    """The one session whose id is `prefix` or starts with it."""
    sessions = get_sessions(endpoint)
    exact = [s for s in sessions if s.id == prefix]
    found = exact or [s for s in sessions if s.id.startswith(prefix)]
    if not prefix or not found:
        fail(f"No session's id starts with {terminal_text(prefix)!r}.")
    if len(found) > 1:
        fail(f"{len(found)} sessions' ids start with {terminal_text(prefix)!r}; give more of the id.")
    return found[0]


@click.command()
@click.argument("session_id", metavar="ID")
@click.option("--deny", is_flag=True, help="Deny instead of allowing.")
@click.option("--message", default="", help="With --deny: what to tell the agent.")
def approve(session_id: str, deny: bool, message: str) -> None:
    """Answer a session's pending permission request (allow, or --deny)."""
    def answer(session: Session) -> dict[str, object]:
        if session.decision is None:
            fail(f"Session {terminal_text(session.id[:12])} has no permission request that can be "
                 "answered here; answer it in its terminal.")
        body: dict[str, object] = {"id": session.decision.id, "behavior": "deny" if deny else "allow",
                                   "via": "cli"}
        if deny and message:
            body["message"] = message
        return body

    session, _ = _post(session_id, "decision", answer)
    tool = session.pending_tool
    what = f"{terminal_text(tool.name)}: {terminal_text(tool.summary)}" if tool else "the request"
    where = terminal_text(session.project) or session.id[:12]
    click.echo(f"{'Denied' if deny else 'Allowed'} {what} ({where}).")


def _post(session_id: str, action: str, body: Callable[[Session], dict[str, object]]
          ) -> tuple[Session, object]:
    """POST an action on the session `session_id` names, with the body made for it; exits
    with one sentence on failure."""
    config = load_config()
    try:
        endpoint = find_daemon(config.state_dir, config.port)
        session = resolve(endpoint, session_id)
        status, answer = request(endpoint, "POST", f"/api/sessions/{session.id}/{action}", body(session))
    except DaemonUnavailable as exc:
        fail(str(exc))
    if status != 200:
        error = answer.get("error") if isinstance(answer, dict) else None
        fail(terminal_text(error) if error else f"The daemon answered {status}.")
    return session, answer


@click.command()
@click.argument("session_id", metavar="ID")
def focus(session_id: str) -> None:
    """Bring the session's terminal (its tmux pane, kitty or WezTerm tab...) to the front."""
    session, answer = _post(session_id, "focus", lambda _: {})
    terminal = answer.get("terminal") if isinstance(answer, dict) else None
    target = terminal.get("target") if isinstance(terminal, dict) else None
    where = terminal_text(session.project) or session.id[:12]
    click.echo(f"Focused {terminal_text(target or 'its terminal')} ({where}).")


@click.command()
@click.argument("session_id", metavar="ID")
@click.argument("text")
@click.option("--no-enter", is_flag=True, help="Type the text without pressing Enter.")
def send(session_id: str, text: str, no_enter: bool) -> None:
    """Type TEXT into a waiting session's terminal, then Enter."""
    session, _ = _post(session_id, "input", lambda _: {"text": text, "enter": not no_enter})
    where = terminal_text(session.project) or session.id[:12]
    click.echo(f"Sent {len(text)} characters{'' if no_enter else ' and Enter'} ({where}).")
