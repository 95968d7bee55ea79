"""A located terminal: what clients see (`protocol.Terminal`) and how to reach it."""

from __future__ import annotations

from dataclasses import dataclass

from sessiond.protocol import Terminal


@dataclass(frozen=True, slots=True)
class Place:
    terminal: Terminal
    # How to reach it, by kind. tmux: `socket` (the server's socket path) and `pane` (a
    # pane id, "%12", stable when the pane moves); kitty: `socket` (its `listen_on`) and
    # `pane` (its window id); WezTerm: `pane` (its pane id) and `socket` (its GUI socket,
    # when known); iTerm2 and Terminal.app: `tty` only.
    socket: str = ""
    pane: str = ""
    tty: str = ""


@dataclass(frozen=True, slots=True)
class TmuxLead:
    """The agent may run in a tmux pane: the server's socket and the pane when its
    environment named them, else only the tty to look for on every server of the user."""

    socket: str | None
    pane: str | None
    tty: str | None
