"""WezTerm, through `wezterm cli`: the pane id comes from the agent's environment
(`WEZTERM_PANE`), else from `wezterm cli list --format json` by its tty. `--no-paste`
sends the text as typed keys rather than a bracketed paste, so an agent's prompt sees
keystrokes; the text is an argument (never a shell), taken literally. WezTerm cannot run
here: the argv builders and the list parser are pure and tested.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping

from sessiond.protocol import Terminal
from sessiond.terminals.place import Place
from sessiond.terminals.run import run

Runner = Callable[..., Awaitable[str]]


def _cli(place: Place) -> list[str]:
    # The GUI's socket when the agent's environment named it (several GUIs may run).
    return ["wezterm", "cli", *(["--unix-socket", place.socket] if place.socket else [])]


def place_of(env: Mapping[str, str], pid: int) -> Place | None:
    pane = env.get("WEZTERM_PANE", "")
    if not pane.isdigit():
        return None
    return Place(Terminal("wezterm", f"wezterm pane {pane}", pid, can_send=True),
                 socket=env.get("WEZTERM_UNIX_SOCKET", ""), pane=pane)


def list_argv() -> list[str]:
    return ["wezterm", "cli", "list", "--format", "json"]


def pane_for_tty(listing: str, tty: str) -> str | None:
    """The pane id whose `tty_name` is the agent's tty, from `wezterm cli list --format json`."""
    try:
        panes = json.loads(listing)
    except ValueError:
        return None
    if not isinstance(panes, list):
        return None
    for pane in panes:
        if isinstance(pane, dict) and pane.get("tty_name") == tty and isinstance(pane.get("pane_id"), int):
            return str(pane["pane_id"])
    return None


def focus_argv(place: Place) -> list[str]:
    return [*_cli(place), "activate-pane", "--pane-id", place.pane]


def send_argv(place: Place, text: str) -> list[str]:
    return [*_cli(place), "send-text", "--pane-id", place.pane, "--no-paste", "--", text]


async def focus(place: Place, runner: Runner = run) -> None:
    await runner(focus_argv(place))


async def send(place: Place, text: str, enter: bool, runner: Runner = run) -> None:
    if text:
        await runner(send_argv(place, text))
    if enter:
        await runner(send_argv(place, "\r"))
