"""tmux: find the pane an agent runs in, bring it to the front, type into it.

The tmux command line rather than libtmux: four commands with fixed formats, run as
subprocesses from the event loop (libtmux is synchronous and its API changes between
minor releases). The argv builders are pure; `find`, `focus` and `send` run them.

The pane is found by its tty (`#{pane_tty}` is the agent's controlling terminal), on the
server its environment names (`$TMUX`), else on every server socket of the user.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sessiond.protocol import Terminal
from sessiond.terminals.place import Place, TmuxLead
from sessiond.terminals.run import ActionFailed, run

Runner = Callable[..., Awaitable[str]]

PANE_FORMAT = "#{pane_id}\t#{pane_tty}\t#{session_name}:#{window_index}.#{pane_index}"
CLIENT_FORMAT = "#{client_activity}\t#{client_name}"


@dataclass(frozen=True, slots=True)
class Pane:
    id: str  # "%12"
    tty: str
    label: str  # "work:2.1" (session:window.pane)


def socket_from_env(env: Mapping[str, str]) -> str | None:
    """`$TMUX` is "socket,server-pid,session": the server the agent's pane belongs to."""
    value = env.get("TMUX", "")
    socket = value.split(",", 1)[0]
    return socket or None


def socket_dir(env: Mapping[str, str], uid: int) -> Path:
    """Where tmux keeps the user's server sockets (tmux(1): TMUX_TMPDIR, else /tmp)."""
    return Path(env.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{uid}"


def user_sockets(env: Mapping[str, str]) -> list[str]:
    """Every tmux server socket of this user (a server per `-L NAME`)."""
    folder = socket_dir(env, os.getuid())
    try:
        return sorted(str(p) for p in folder.iterdir() if p.is_socket())
    except OSError:
        return []  # no tmux server was ever started: no socket folder


def list_panes_argv(socket: str) -> list[str]:
    return ["tmux", "-S", socket, "list-panes", "-a", "-F", PANE_FORMAT]


def parse_panes(text: str) -> list[Pane]:
    panes = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith("%"):
            panes.append(Pane(*parts))
    return panes


def list_clients_argv(socket: str) -> list[str]:
    return ["tmux", "-S", socket, "list-clients", "-F", CLIENT_FORMAT]


def latest_client(text: str) -> str | None:
    """The client the user touched last (the one a switch should move)."""
    best: tuple[int, str] | None = None
    for line in text.splitlines():
        activity, _, name = line.partition("\t")
        if name and activity.isdigit() and (best is None or int(activity) > best[0]):
            best = (int(activity), name)
    return best[1] if best else None


def focus_argv(socket: str, pane: str, client: str | None) -> list[list[str]]:
    """Make the pane the active pane of the active window, and show it in the client."""
    commands = [
        ["tmux", "-S", socket, "select-window", "-t", pane],
        ["tmux", "-S", socket, "select-pane", "-t", pane],
    ]
    if client is not None:
        commands.append(["tmux", "-S", socket, "switch-client", "-c", client, "-t", pane])
    return commands


def send_argv(socket: str, pane: str, text: str, enter: bool) -> list[list[str]]:
    """Type `text` literally (`-l`: no key names; `--`: a leading dash is text), then Enter."""
    commands = [["tmux", "-S", socket, "send-keys", "-t", pane, "-l", "--", text]] if text else []
    if enter:
        commands.append(["tmux", "-S", socket, "send-keys", "-t", pane, "Enter"])
    return commands


def place_of(socket: str, pane: Pane, pid: int) -> Place:
    return Place(Terminal("tmux", pane.label, pid, can_send=True), socket=socket, pane=pane.id, tty=pane.tty)


async def find(
    lead: TmuxLead, pid: int, env: Mapping[str, str], runner: Runner = run,
    listings: dict[str, list[Pane]] | None = None,
) -> Place | None:
    """The pane the agent runs in, on its own server or any of the user's; None if none.
    `listings` (socket -> its panes) is shared by the lookups of one refresh: one
    `list-panes` per server, not one per agent."""
    sockets: Sequence[str] = [lead.socket] if lead.socket else user_sockets(env)
    listings = {} if listings is None else listings
    for socket in sockets:
        if socket not in listings:
            try:
                listings[socket] = parse_panes(await runner(list_panes_argv(socket)))
            except ActionFailed:
                listings[socket] = []  # a dead server's socket left behind: try the next one
        panes = listings[socket]
        for pane in panes:
            if (lead.tty and pane.tty == lead.tty) or (not lead.tty and pane.id == lead.pane):
                return place_of(socket, pane, pid)
    return None


async def focus(place: Place, runner: Runner = run) -> None:
    try:
        client = latest_client(await runner(list_clients_argv(place.socket)))
    except ActionFailed:
        client = None  # no client attached: the pane is still made the active one
    for argv in focus_argv(place.socket, place.pane, client):
        await runner(argv)


async def send(place: Place, text: str, enter: bool, runner: Runner = run) -> None:
    for argv in send_argv(place.socket, place.pane, text, enter):
        await runner(argv)
