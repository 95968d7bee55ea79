"""The one boundary around the process table (psutil: Linux and macOS alike).

Blocking calls: the service runs them in a thread. A scan reads each process's name
(one small read each, skipped for processes already known not to be agents) and, only for
agents and interpreters, its command line; the rest (cwd, tty, environment, parents) only
for the agents found. A process that vanishes or
is not ours mid-read is skipped: the table changes while it is read.
"""

from __future__ import annotations

import time
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


class ProcessTable:
    """Reads the process table for agents, remembering what is not one.

    Reading every process's name costs ~25 µs each (2,000 processes: 50 ms), so a process
    found not to be an agent is remembered and skipped by later scans. Two cases could make
    that wrong, and both are guarded: a process just forked (named after its parent until
    it execs the agent) is only remembered once it is `SETTLED_S` old, and a pid reused by
    a new process is caught by forgetting everything every `FORGET_AFTER_S`.
    """

    SETTLED_S = 5.0
    FORGET_AFTER_S = 60.0

    def __init__(self, agents: Mapping[str, tuple[str, ...]]) -> None:
        self._agents = agents
        self._names = {m for markers in agents.values() for m in markers if "/" not in m}
        self._not_agents: set[int] = set()
        # Agents found before, by pid: their facts are kept while the same process runs
        # (its start time tells a reused pid), so a refresh reads one line per agent.
        self._known: dict[int, ProcessFacts] = {}
        self._forgot_at = time.monotonic()

    def scan(self) -> list[ProcessFacts]:
        """Every running agent process."""
        if time.monotonic() - self._forgot_at > self.FORGET_AFTER_S:
            self._not_agents.clear()
            self._known.clear()
            self._forgot_at = time.monotonic()
        pids = psutil.pids()
        self._not_agents.intersection_update(pids)
        found: list[ProcessFacts] = []
        known, self._known = self._known, {}
        now = time.time()
        for pid in pids:
            if pid in self._not_agents:
                continue
            try:
                proc = psutil.Process(pid)
                facts = known.get(pid)
                agent: str | None = None
                if facts is None or proc.create_time() != facts.process.started:
                    facts, name = None, proc.name()
                    if name in self._names or name in INTERPRETERS or name.startswith("python3."):
                        agent = agent_of(name, proc.cmdline(), self._agents)
                    if agent is None:
                        if now - proc.create_time() > self.SETTLED_S:
                            self._not_agents.add(pid)
                        continue
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue  # exited, not yet reaped (a killed agent in a closed pane)
                if facts is None:
                    assert agent is not None
                    facts = _facts(proc, agent)
                found.append(facts)
                self._known[pid] = facts
            except (psutil.Error, OSError):
                continue  # gone, or not ours to read
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
