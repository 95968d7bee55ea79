"""Which process writes which session: pure rules, no I/O.

Two kinds of evidence, the better first:
- **exact**: the hook forwarder (`sessiond-hook`) reports its parent's pid with each
  payload; walking up from it to the first process that is the agent names the agent's
  process for that session (`agent_ancestor`).
- **by evidence**: a process that is the agent (`agent_of`), whose working directory is
  the session's `cwd`, started before the session's first line. When several remain, a
  session another one has already claimed without doubt is taken out and the rest tried
  again; what is still several is "ambiguous", never a guess (`assign`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# Programs that run an agent's script: `node …/claude`, `python3 ./claude` (a stand-in).
INTERPRETERS = frozenset({"node", "nodejs", "bun", "deno", "python", "python3"})
# A process may start this much after the session's first line we saw and still be its
# writer (the two clocks are the same machine's; this covers rounding and the read delay).
START_SLACK_S = 2.0


@dataclass(frozen=True, slots=True)
class AgentProcess:
    """A running process that is one of the agents."""

    pid: int
    agent: str
    cwd: str
    started: float  # epoch seconds
    tty: str | None  # its controlling terminal ("/dev/pts/3"), None when it has none


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    """What the terminal finder needs to know about an agent's process."""

    process: AgentProcess
    env: Mapping[str, str] = field(default_factory=dict)
    # Its parents' names, nearest first (`tmux: server`, `kitty`, `code`...).
    ancestors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WantedSession:
    """A live session whose process is looked for."""

    session_id: str
    agent: str
    cwd: str
    first_seen: float | None  # epoch seconds of its first line sessiond saw


def script_names(argv: Sequence[str]) -> list[str]:
    """The names a command line can be recognised by: the program, and for an
    interpreter the script it runs (its first argument that is not an option)."""
    if not argv:
        return []
    names = [argv[0]]
    if _program(argv[0]) in INTERPRETERS or _program(argv[0]).startswith("python3."):
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        if script is not None:
            names.append(script)
    return names


def agent_of(name: str, argv: Sequence[str], agents: Mapping[str, tuple[str, ...]]) -> str | None:
    """Which agent this process is (`agents`: agent -> its `process_names`), if any."""
    candidates = [name, *script_names(argv)]
    for agent, markers in agents.items():
        for marker in markers:
            if "/" in marker:  # a package path part
                if any(marker in path for path in candidates[1:]):
                    return agent
            elif any(_program(path) == marker for path in candidates):
                return agent
    return None


def _program(path: str) -> str:
    """`/usr/lib/node_modules/x/bin/codex.js` -> `codex`: the name without folders or a
    script extension."""
    base = os.path.basename(path)
    root, ext = os.path.splitext(base)
    return root if ext in (".js", ".mjs", ".cjs", ".py", ".exe") else base


def agent_ancestor(chain: Sequence[tuple[int, str | None]]) -> int | None:
    """The first process, from the forwarder's parent upwards, that is an agent.

    `chain` is (pid, agent or None) from the reported pid up; a hook command may run
    through a shell (`sh -c 'sessiond-hook …'`), so the parent is not always the agent.
    """
    return next((pid for pid, agent in chain if agent is not None), None)


@dataclass(frozen=True, slots=True)
class Assigned:
    pid: int | None
    note: str = ""  # why none, when `pid` is None


def assign(
    wanted: Iterable[WantedSession], processes: Sequence[AgentProcess], display: Mapping[str, str],
) -> dict[str, Assigned]:
    """Each wanted session's process by evidence (`display`: agent -> its name for people)."""
    options: dict[str, list[AgentProcess]] = {}
    sessions = list(wanted)
    for session in sessions:
        options[session.session_id] = _candidates(session, processes)
    settled: dict[str, int] = {}
    progress = True
    while progress:  # a session with one candidate takes it away from the others
        progress = False
        taken = set(settled.values())
        for sid, found in options.items():
            if sid in settled:
                continue
            # One candidate: it is the session's, even if another session has it too (an
            # agent that went on to a new session, `/clear`: the newest keeps it below).
            left = found if len(found) == 1 else [p for p in found if p.pid not in taken]
            if len(left) == 1:
                settled[sid] = left[0].pid
                progress = True
    result: dict[str, Assigned] = {}
    newest: dict[int, WantedSession] = {}
    for session in sessions:
        pid = settled.get(session.session_id)
        if pid is None:
            continue
        other = newest.get(pid)
        if other is None or (session.first_seen or 0) > (other.first_seen or 0):
            newest[pid] = session
    for session in sessions:
        name = display.get(session.agent, session.agent)
        pid = settled.get(session.session_id)
        found = options[session.session_id]
        if pid is not None and newest[pid] is session:
            result[session.session_id] = Assigned(pid)
        elif pid is not None:
            result[session.session_id] = Assigned(None, f"its {name} process has gone on to a newer session")
        elif not session.cwd:
            result[session.session_id] = Assigned(None, "its transcript does not say where it runs")
        elif not found:
            result[session.session_id] = Assigned(
                None, f"no running {name} process was found in {session.cwd}")
        else:
            result[session.session_id] = Assigned(
                None, f"ambiguous: {len(found)} {name} processes run in {session.cwd} (install the "
                      "hooks, `sessiond hooks install`, to tell them apart)")
    return result


def _candidates(session: WantedSession, processes: Sequence[AgentProcess]) -> list[AgentProcess]:
    """The processes that may write `session`: one per terminal (an agent's launcher and
    the program it starts share a tty: the outermost stands for both)."""
    if not session.cwd:
        return []
    by_tty: dict[str | None, AgentProcess] = {}
    for process in sorted(processes, key=lambda p: p.started):
        if process.agent != session.agent or process.cwd != session.cwd:
            continue
        if session.first_seen is not None and process.started > session.first_seen + START_SLACK_S:
            continue
        key = process.tty if process.tty is not None else f"pid:{process.pid}"
        by_tty.setdefault(key, process)
    return list(by_tty.values())
