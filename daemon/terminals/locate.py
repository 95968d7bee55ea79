"""Which terminal an agent's process runs in, from its environment, its tty and its
parents: pure, no I/O. tmux needs a lookup (its pane by tty), so it comes back as a
`TmuxLead` the service resolves; every other answer is final: a `Place`, or one sentence
saying why there is none.

tmux is tried first: a tmux pane inside kitty is where the agent is, not the kitty window.
"""

from __future__ import annotations

from sessiond.terminals import kitty, macos, wezterm
from sessiond.terminals.matching import ProcessFacts
from sessiond.terminals.place import Place, TmuxLead
from sessiond.terminals.tmux import socket_from_env

TMUX_SERVER_NAMES = ("tmux: server", "tmux")


def locate(facts: ProcessFacts, system: str) -> Place | TmuxLead | str:
    env, process = facts.env, facts.process
    tty = process.tty
    if "TMUX" in env or any(name in TMUX_SERVER_NAMES for name in facts.ancestors):
        return TmuxLead(socket_from_env(env), env.get("TMUX_PANE"), tty)
    if "KITTY_WINDOW_ID" in env:
        return kitty.place_of(env, process.pid)
    if "WEZTERM_PANE" in env:
        return wezterm.place_of(env, process.pid) or "runs in WezTerm, but its pane id is unknown"
    program = env.get("TERM_PROGRAM", "")
    if system == "Darwin" and program in ("iTerm.app", "Apple_Terminal"):
        kind = "iterm2" if program == "iTerm.app" else "terminal_app"
        return macos.place_of(kind, tty, process.pid) or "runs in a macOS terminal without a tty"
    if tty is None:
        return "runs without a terminal (started by another program, not in a terminal window)"
    # The environment may be unreadable (another user's process, macOS limits): the
    # user's tmux servers are searched by tty before giving up.
    return TmuxLead(None, None, tty)


def why_not_found(facts: ProcessFacts) -> str:
    """One sentence for an agent whose terminal sessiond cannot drive."""
    env, names = facts.env, facts.ancestors
    program = env.get("TERM_PROGRAM", "")
    editors = ("code", "Code", "cursor", "Cursor")
    if program == "vscode" or "VSCODE_PID" in env or any(n in editors for n in names):
        return "runs in a VS Code terminal: focus it there"
    if "GNOME_TERMINAL_SCREEN" in env or "gnome-terminal-server" in names:
        return "runs in GNOME Terminal, which cannot be driven from outside: focus it there"
    if env.get("TERMINAL_EMULATOR", "").startswith("JetBrains"):
        return "runs in a JetBrains IDE terminal: focus it there"
    if "TMUX" in env:
        return "runs in tmux, but its pane was not found (the tmux server may have restarted)"
    host = next((n for n in names if n not in ("bash", "zsh", "fish", "sh", "dash", "login", "sudo")), "")
    where = f" ({host})" if host else ""
    return f"runs in a terminal sessiond cannot drive{where}: focus it there"
