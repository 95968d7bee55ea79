"""The one boundary around the process table (psutil: Linux and macOS alike).

Blocking calls: the service runs them in a thread. A scan reads every process's name
(one small read each) and, only for agents and interpreters, its command line; the rest
(cwd, tty, environment, parents) only for the agents found. A process that vanishes or
is not ours mid-read is skipped: the table changes while it is read.
"""

from __future__ import annotations

from collections.abc import Mapping

import psutil
from sessiond.terminals.matching import INTERPRETERS, AgentProcess, ProcessFacts, agent_of

# What the agent's environment tells about its terminal (the rest is never kept).
TERMINAL_VARIABLES = (
    "TMUX", "TMUX_PANE", "KITTY_WINDOW_ID", "KITTY_LISTEN_ON", "WEZTERM_PANE",
    "WEZTERM_UNIX_SOCKET", "TERM_PROGRAM", "ITERM_SESSION_ID", "GNOME_TERMINAL_SCREEN",
    "VSCODE_PID", "TERMINAL_EMULATOR",
)  # fmt: skip
# How far up a reported pid is followed to find the agent (forwarder <- shell <- agent).
MAX_ANCESTORS = 6


def scan(agents: Mapping[str, tuple[str, ...]]) -> list[ProcessFacts]:
    """Every running agent process (`agents`: agent -> its `process_names`)."""
    names = {marker for markers in agents.values() for marker in markers if "/" not in marker}
    found: list[ProcessFacts] = []
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name") or ""
        if name not in names and name not in INTERPRETERS and not name.startswith("python3."):
            continue
        try:
            agent = agent_of(name, proc.cmdline(), agents)
            if agent is not None:
                found.append(_facts(proc, agent))
        except (psutil.Error, OSError):
            continue
    return found


def facts_of(pid: int, agents: Mapping[str, tuple[str, ...]]) -> ProcessFacts | None:
    """The agent process at `pid` or above it (the hook forwarder's parent may be a shell);
    None when neither it nor its near parents are an agent, or it is gone."""
    try:
        proc: psutil.Process | None = psutil.Process(pid)
        for _ in range(MAX_ANCESTORS):
            if proc is None:
                return None
            agent = agent_of(proc.name(), proc.cmdline(), agents)
            if agent is not None:
                return _facts(proc, agent)
            proc = proc.parent()
    except (psutil.Error, OSError):
        return None
    return None


def is_running(process: AgentProcess) -> bool:
    """Is this very process (not a later one with its pid) still running?"""
    try:
        proc = psutil.Process(process.pid)
        return proc.create_time() == process.started and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError):
        return False


def _facts(proc: psutil.Process, agent: str) -> ProcessFacts:
    with proc.oneshot():
        started = proc.create_time()
        tty = proc.terminal()
        try:
            cwd = proc.cwd()
        except (psutil.AccessDenied, OSError):
            cwd = ""
        try:
            env = {k: v for k, v in proc.environ().items() if k in TERMINAL_VARIABLES}
        except (psutil.AccessDenied, OSError):
            env = {}  # macOS hides other processes' environments: the tty still tells
    ancestors: list[str] = []
    try:
        for parent in proc.parents()[:MAX_ANCESTORS]:
            ancestors.append(parent.name())
    except (psutil.Error, OSError):
        pass  # a parent exited while read: the names found so far are what there is
    return ProcessFacts(AgentProcess(proc.pid, agent, cwd, started, tty), env, tuple(ancestors))
