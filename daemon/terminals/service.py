"""The terminal finder's I/O shell: which process and which terminal each live session
has, kept up to date cheaply, and the actions on it (focus, type).

When it looks: a session appears or starts working again without a known terminal, the
hook forwarder reports a new pid, or an action finds nothing (a miss). Never per line:
the process table is scanned at most once per `MIN_SCAN_GAP_S`. Between scans only the
processes already found are checked (still running?) every `LIVENESS_S`; one that exited
takes its session's terminal away.
"""

from __future__ import annotations

import asyncio
import platform
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sessiond.config import Config
from sessiond.engine.hub import Event
from sessiond.engine.outputs import Output, SessionChanged, SessionRemoved
from sessiond.protocol import Session, Terminal, utcnow
from sessiond.sources import plugins
from sessiond.terminals import kitty, locate, macos, matching, processes, tmux, wezterm
from sessiond.terminals.matching import ProcessFacts
from sessiond.terminals.place import Place, TmuxLead
from sessiond.terminals.run import ActionFailed
from sessiond.terminals.typed import session_problem, text_problem

if TYPE_CHECKING:
    from sessiond.engine.coordinator import Engine

log = structlog.get_logger(__name__)

LIVENESS_S = 2.0
MIN_SCAN_GAP_S = 1.0
# Sessions not written for this long are not looked for (their agent is long gone).
LIVE_WITHIN = timedelta(days=1)
# Pids reported by the forwarder that are kept at once (one per session).
MAX_EXACT = 4096

Focus = Callable[[Place], Awaitable[None]]
Send = Callable[[Place, str, bool], Awaitable[None]]


async def _cannot_send(place: Place, text: str, enter: bool) -> None:
    raise ActionFailed(f"{place.terminal.target} cannot take typed input from sessiond.")


DRIVERS: dict[str, tuple[Focus, Send]] = {
    "tmux": (tmux.focus, tmux.send),
    "kitty": (kitty.focus, kitty.send),
    "wezterm": (wezterm.focus, wezterm.send),
    "iterm2": (macos.focus, _cannot_send),
    "terminal_app": (macos.focus, _cannot_send),
}


@dataclass(frozen=True, slots=True)
class Found:
    """A session's process (None: not found) and its terminal (None: `note` says why)."""

    process: matching.AgentProcess | None
    place: Place | None
    note: str


class Terminals:
    def __init__(self, engine: Engine, config: Config) -> None:
        self._engine = engine
        self._config = config
        self._env = config.env
        self._system = platform.system()
        self._agents: dict[str, tuple[str, ...]] = {p.agent: p.process_names for p in plugins().values()}
        self._display: dict[str, str] = {p.agent: p.display_name for p in plugins().values()}
        self._table = processes.ProcessTable(self._agents)
        self._exact: OrderedDict[str, int] = OrderedDict()  # session id -> the forwarder's parent
        self._found: dict[str, Found] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._last_scan = 0.0
        self._answering: set[asyncio.Task[None]] = set()
        # For /metrics and the benchmark: scans made, and the CPU time they took.
        self.scans = 0
        self.scan_cpu_s = 0.0

    # -- what triggers a look ----------------------------------------------------------

    def on_output(self, output: Output, event: Event | None) -> None:
        """The publisher's outputs: a new session, or one working again with no terminal."""
        if isinstance(output, SessionRemoved):
            self._found.pop(output.removed.session_id, None)
            self._exact.pop(output.removed.session_id, None)
        elif isinstance(output, SessionChanged):
            session = output.session
            if session.status != "ended" and session.terminal is None and (
                session.id not in self._found or session.status == "working"
            ):
                self._wake.set()

    def hook_pid(self, session_id: str, pid: int) -> None:
        """The hook forwarder ran as a child of this session's agent (or of its shell)."""
        if self._exact.get(session_id) == pid:
            self._exact.move_to_end(session_id)
            return
        self._exact[session_id] = pid
        while len(self._exact) > MAX_EXACT:
            self._exact.popitem(last=False)
        self._wake.set()

    async def run(self) -> None:
        """Forever: scan when asked (at most once per MIN_SCAN_GAP_S), else check liveness.
        The first scan is at once: sessions restored from the last run are checked."""
        self._wake.set()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), LIVENESS_S)
            except TimeoutError:
                if await asyncio.to_thread(self._any_exited):
                    self._wake.set()
                continue
            gap = MIN_SCAN_GAP_S - (time.monotonic() - self._last_scan)
            if gap > 0:
                await asyncio.sleep(gap)
            self._wake.clear()
            await self.refresh()

    def _any_exited(self) -> bool:
        return any(f.process is not None and not processes.is_running(f.process)
                   for f in list(self._found.values()))

    # -- looking -----------------------------------------------------------------------

    async def refresh(self) -> None:
        """Find every live session's process and terminal again, and publish what changed."""
        async with self._lock:
            self._last_scan = time.monotonic()
            found = await self._look()
        for sid in [sid for sid in self._found if sid not in found]:
            del self._found[sid]  # ended, or silent for a day: nothing to point at
            self._engine.keeper.set_terminal(sid, None, "")
        for sid, result in found.items():
            if self._found.get(sid) != result:
                self._found[sid] = result
                self._engine.keeper.set_terminal(sid, result.place.terminal if result.place else None,
                                                 result.note)

    async def _look(self) -> dict[str, Found]:
        live = self._live_sessions()
        started = time.process_time()
        scanned, exact = await asyncio.to_thread(self._read_processes, [s.id for s in live])
        self.scans += 1
        self.scan_cpu_s += time.process_time() - started
        wanted = [
            matching.WantedSession(s.id, s.agent, s.cwd, self._first_seen(s))
            for s in live if s.parent_id is None and s.id not in exact
        ]
        # A process the forwarder named, and any other on its tty (its launcher, its
        # child), belong to that session: never offered to another one.
        pids = {f.process.pid for f in exact.values()}
        ttys = {f.process.tty for f in exact.values() if f.process.tty}
        free = [f for f in scanned if f.process.pid not in pids and f.process.tty not in ttys]
        by_pid = {f.process.pid: f for f in free}
        assigned = matching.assign(wanted, [f.process for f in free], self._display)
        result: dict[str, Found] = {}
        listings: dict[str, list[tmux.Pane]] = {}
        for sid, facts in exact.items():
            result[sid] = await self._found_for(facts, listings)
        for sid, answer in assigned.items():
            chosen = by_pid.get(answer.pid) if answer.pid is not None else None
            if chosen is None:
                result[sid] = Found(None, None, answer.note)
            else:
                result[sid] = await self._found_for(chosen, listings)
        for session in live:  # a subagent runs inside its parent's process
            if session.parent_id is not None:
                parent = result.get(session.parent_id)
                result[session.id] = parent if parent is not None else Found(
                    None, None, "its parent session's terminal is not known")
        return result

    def _read_processes(self, live: list[str]) -> tuple[list[ProcessFacts], dict[str, ProcessFacts]]:
        """Blocking (psutil): every agent process, and the forwarder-reported ones."""
        exact: dict[str, ProcessFacts] = {}
        for sid in live:
            pid = self._exact.get(sid)
            if pid is not None:
                facts = processes.facts_of(pid, self._agents)
                if facts is not None:
                    exact[sid] = facts
        return self._table.scan(), exact

    def _live_sessions(self) -> list[Session]:
        horizon = utcnow() - LIVE_WITHIN
        local = ("", self._config.name)  # another machine's agents are not ours to find
        return [s for s in self._engine.sessions.values()
                if s.status != "ended" and s.last_activity >= horizon and s.host in local]

    def _first_seen(self, session: Session) -> float | None:
        entry = self._engine.table.get(session.id)
        seen = entry.first_seen if entry is not None else None
        return seen.timestamp() if seen is not None else None

    async def _found_for(self, facts: ProcessFacts, listings: dict[str, list[tmux.Pane]]) -> Found:
        where = locate.locate(facts, self._system)
        if isinstance(where, str):
            return Found(facts.process, None, where)
        if isinstance(where, TmuxLead):
            place = await tmux.find(where, facts.process.pid, self._env, listings=listings)
            return Found(facts.process, place, "" if place else locate.why_not_found(facts))
        return Found(facts.process, where, "")

    # -- acting ------------------------------------------------------------------------

    async def place_of(self, session_id: str) -> Place:
        """The session's terminal, checked to be still there; looked for again on a miss.
        ActionFailed (one sentence) when there is none."""
        found = self._found.get(session_id)
        if found is None or found.place is None or (
            found.process is not None and not await asyncio.to_thread(processes.is_running, found.process)
        ):
            await self.refresh()
            found = self._found.get(session_id)
        if found is None:
            raise ActionFailed("sessiond has not looked for this session's terminal yet (it is not live).")
        if found.place is None:
            raise ActionFailed(f"No terminal is known for this session: it {found.note}.")
        return found.place

    async def focus(self, session_id: str) -> Terminal:
        place = await self.place_of(session_id)
        await DRIVERS[place.terminal.kind][0](place)
        log.info("terminal focused", session=session_id, kind=place.terminal.kind,
                 target=place.terminal.target)
        return place.terminal

    async def type_into(self, session_id: str, text: str, enter: bool) -> Terminal:
        """Type a reply (the panel, the CLI, a toast): only while the session waits, only
        one line of plain text, only when typing is turned on. ActionFailed otherwise."""
        if not self._config.send_input:
            raise ActionFailed("Typing into agents' terminals is turned off ([actions] input = false).")
        problem = text_problem(text)
        session = self._engine.sessions.get(session_id)
        if problem is None:
            problem = "That session is gone." if session is None else session_problem(session)
        if problem is not None:
            raise ActionFailed(problem)
        return await self.send(session_id, text, enter)

    def can_focus(self, session_id: str) -> bool:
        found = self._found.get(session_id)
        return found is not None and found.place is not None

    def can_type(self, session_id: str) -> bool:
        found = self._found.get(session_id)
        return self._config.send_input and found is not None and found.place is not None \
            and found.place.terminal.can_send

    async def send(self, session_id: str, text: str, enter: bool) -> Terminal:
        place = await self.place_of(session_id)
        if not place.terminal.can_send:
            raise ActionFailed(f"{place.terminal.target} cannot take typed input from sessiond.")
        await DRIVERS[place.terminal.kind][1](place, text, enter)
        log.info("typed into a terminal", session=session_id, kind=place.terminal.kind,
                 target=place.terminal.target, chars=len(text), enter=enter)
        return place.terminal

    async def answer_by_keys(self, session_id: str, decision_id: str, behavior: str) -> bool:
        """Answer an approval prompt by typing the agent's own keys (Codex: "y" / "n").
        False when that prompt is no longer the one waiting; ActionFailed when typing fails."""
        session = self._engine.sessions.get(session_id)
        plugin = plugins().get(session.agent) if session is not None else None
        if session is None or plugin is None or plugin.approval_keys is None:
            return False
        decision = session.decision
        if decision is None or decision.id != decision_id or session.status != "waiting_for_approval":
            return False
        key = plugin.approval_keys[0 if behavior == "allow" else 1]
        await self.send(session_id, key, enter=False)
        log.info("permission request answered", session=session_id, behavior=behavior, via="keys")
        return True

    def answer_by_keys_soon(self, session_id: str, decision_id: str, behavior: str) -> None:
        """`answer_by_keys` from a callback (a toast's button), its failure logged."""
        task = asyncio.ensure_future(self._answer_logged(session_id, decision_id, behavior))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer_logged(self, session_id: str, decision_id: str, behavior: str) -> None:
        try:
            answered = await self.answer_by_keys(session_id, decision_id, behavior)
        except ActionFailed as exc:
            log.warning("a toast's answer was not typed", session=session_id, reason=str(exc))
            return
        if not answered:
            log.warning("a toast's answer came too late: the prompt is no longer pending",
                        session=session_id)

    def prometheus(self) -> str:
        """For /metrics: how often the process table was read, and what that cost."""
        return "\n".join([
            "# TYPE sessiond_terminal_scans_total counter",
            f"sessiond_terminal_scans_total {self.scans}",
            "# TYPE sessiond_terminal_scan_cpu_seconds_total counter",
            f"sessiond_terminal_scan_cpu_seconds_total {self.scan_cpu_s:.6f}",
        ])

    def notes(self) -> dict[str, Found]:
        """Every live session's finding (for `sessiond doctor`)."""
        return dict(self._found)
