"""Wiring: every component of a daemon built in one place, and how they are connected.

`build(config, token)` makes the parts `Server` runs: the hub and the publisher, the
engine, persistence, the notifier, metrics and the HTTP application. The engine's
outputs reach persistence, metrics and the notifier through one publisher, in that
order (persistence sees each numbered event before anything else can fail).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog
from aiohttp import web
from sessiond.config import Config

if TYPE_CHECKING:
    from sessiond.bus.link import BusLink
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import Event, EventHub
from sessiond.engine.outputs import FileProgress, Output, Publisher, SessionRemoved, TransitionMade
from sessiond.engine.rules import KEYS_DECISION
from sessiond.engine.table import Previous
from sessiond.hooks import route as hooks_route
from sessiond.hooks.decisions import Answer
from sessiond.mirror.opencode import OpenCodeMirror
from sessiond.notify.desktop import Notifier
from sessiond.protocol import ComponentHealth
from sessiond.service.tasks import TaskSupervisor
from sessiond.sources import all_sources
from sessiond.sources.opencode.transcript import mirror_root, opencode_data_dir
from sessiond.store.db import DB_NAME, Store, StoreError, move_aside, no_space
from sessiond.store.persistence import Persistence
from sessiond.terminals.service import Terminals
from sessiond.web.controls import add_routes as controls_routes
from sessiond.web.decisions import add_routes as decision_routes
from sessiond.web.metrics import Metrics
from sessiond.web.routes import Context, build_app
from sessiond.web.terminal import routes as terminal_routes

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class Components:
    config: Config
    hub: EventHub
    publisher: Publisher
    engine: Engine
    store: Store
    persistence: Persistence
    previous: Previous
    notifier: Notifier
    terminals: Terminals
    # The bus joining several machines, when one is configured (`--bus`).
    bus: BusLink | None
    metrics: Metrics
    tasks: TaskSupervisor
    context: Context
    web_app: web.Application
    # Logs sessiond keeps of agents that keep none (OpenCode): see daemon/mirror/.
    mirrors: list[OpenCodeMirror] = field(default_factory=list)
    loop_lag_ms: float = 0.0

    def record_lag(self, lag_ms: float) -> None:
        self.loop_lag_ms = lag_ms

    def health(self) -> dict[str, ComponentHealth]:
        internal = ("loop_lag", "watchdog", "heartbeat", "parent", "describe_old")
        parts = {k: v for k, v in self.tasks.health.items()
                 if k not in internal and not k.startswith(("bus_", "mirror_"))}
        for mirror in self.mirrors:
            task = self.tasks.health.get(f"mirror_{mirror.agent}")
            parts[mirror.agent] = task if task is not None and task.status != "ok" else mirror.health()
        if self.bus is not None:
            parts["bus"] = self.bus.health()
        parts["notifier"] = self.notifier.health()
        parts["server"] = ComponentHealth("ok", f"loop lag {self.loop_lag_ms:.1f} ms")
        parts["store"] = self.persistence.health()
        quarantined = self.engine.quarantined()
        parts["transcripts"] = (
            ComponentHealth("degraded", f"{len(quarantined)} file(s) quarantined")
            if quarantined
            else ComponentHealth("ok", f"{len(self.engine.files)} files")
        )
        return parts


def build(config: Config, token: str) -> Components:
    """Every part of the daemon, connected; nothing started yet (see `Server.startup`)."""
    hub = EventHub(capacity=config.event_buffer, client_limit=config.client_queue,
                   memory_budget=config.sse_budget_bytes)
    publisher = Publisher(hub)
    # `--no-watch` (team mode): a board of the bus alone, no local agents.
    engine = Engine(config, publisher, all_sources() if config.watch else [])
    store = open_store(config.state_dir)
    persistence = Persistence(store, keep_events=max(config.event_buffer, 10_000))
    reserved, history, previous = persistence.load()
    hub.restore(history)
    # Clients resume from the last committed id (nothing after it was ever delivered); new
    # events are numbered above everything the last run may have reserved.
    hub.last_id = persistence.last_logged
    hub.id_floor = reserved
    # Clients get an event once it is committed (see EventHub), so a kill -9 repeats nothing.
    hub.gated = True
    persistence.on_flushed = hub.release
    notifier = Notifier(config, store)
    metrics = Metrics()
    metrics.extra_text.append(notifier.stats.prometheus)
    publisher.subscribe(_to_persistence(persistence))
    publisher.subscribe(_to_metrics(metrics))
    publisher.subscribe(_to_notifier(notifier))
    terminals = Terminals(engine, config)
    publisher.subscribe(terminals.on_output)
    metrics.extra_text.append(terminals.prometheus)
    bus = make_bus(config, engine, store, persistence)
    if bus is not None:
        publisher.subscribe(bus.on_output)
        metrics.extra_text.append(bus.prometheus)
    tasks = TaskSupervisor()
    ctx = Context(
        config=config,
        engine=engine,
        hub=hub,
        token=token,
        metrics=metrics,
        components=lambda: parts.health(),
        hook_handler=hooks_route.make_handler(engine, metrics, terminals.hook_pid),
        terminals=terminals,
        extra_routes=[controls_routes(store), hooks_route.add_routes, decision_routes,
                      terminal_routes(terminals)],
    )
    metrics.extra_text.append(lambda: _connections_text(ctx))
    notifier.answers_for = lambda sid: _toast_answers(engine, terminals, sid)
    notifier.terminals = terminals
    parts = Components(config, hub, publisher, engine, store, persistence, previous, notifier,
                       terminals, bus, metrics, tasks, ctx, build_app(ctx), mirrors=make_mirrors(config))
    return parts


def make_mirrors(config: Config) -> list[OpenCodeMirror]:
    """The mirror of OpenCode's storage (none in team mode: no local agents)."""
    if not config.watch:
        return []
    return [OpenCodeMirror(opencode_data_dir(config.env, config.home), mirror_root(config.state_dir))]


def sync_mirrors(parts: Components) -> None:
    """Bring the mirrors up to date before the engine reads them at start, so what an
    agent wrote while the daemon was down is caught up like any transcript (stamped
    with its own times, never toasted as new)."""
    for mirror in parts.mirrors:
        try:
            mirror.sync()
        except OSError as exc:  # the state dir: its task will try again and report
            log.warning("mirror not synced at start", data_dir=str(mirror.data_dir), error=str(exc))


def _toast_answers(engine: Engine, terminals: Terminals, session_id: str) -> Callable[[str], None] | None:
    """Allow/Deny for a toast: answers the request held when the toast was sent (a newer
    request gets its own toast; an answered or expired one gets 'no longer pending'), or
    the agent's own prompt by its keys (Codex in a terminal that takes input)."""
    decision = engine.decisions.current(session_id)
    shown = engine.sessions.get(session_id)
    if decision is None and shown is not None and shown.decision is not None \
            and shown.decision.id.startswith(KEYS_DECISION):
        keys_id = shown.decision.id

        def by_keys(behavior: str) -> None:
            terminals.answer_by_keys_soon(session_id, keys_id, behavior)

        return by_keys
    if decision is None:
        return None

    def answer(behavior: str) -> None:
        verdict: Literal["allow", "deny"] = "allow" if behavior == "allow" else "deny"
        engine.answer_decision(session_id, decision.id, Answer(verdict, via="toast"))

    return answer


def make_bus(config: Config, engine: Engine, store: Store, persistence: Persistence) -> BusLink | None:
    """The link to the bus, or None without one (redis is then never imported)."""
    if config.bus_url is None:
        return None
    from sessiond.bus.link import POSITION_KEY, BusLink

    position = store.get_json(POSITION_KEY)
    return BusLink(config, engine, lambda at: persistence.on_kv(POSITION_KEY, at),
                   position if isinstance(position, str) else None)


def _connections_text(ctx: Context) -> str:
    guard = ctx.connections
    return "\n".join([
        "# TYPE sessiond_connections gauge",
        f"sessiond_connections {guard.open}",
        "# TYPE sessiond_connections_closed_total counter",
        f'sessiond_connections_closed_total{{reason="slow_head"}} {guard.closed_slow}',
        f'sessiond_connections_closed_total{{reason="over_limit"}} {guard.closed_over_limit}',
    ])


def _to_persistence(persistence: Persistence) -> Callable[[Output, Event | None], None]:
    def take(output: Output, event: Event | None) -> None:
        if event is not None:
            persistence.on_event(event)
        elif isinstance(output, FileProgress):
            persistence.on_offset(output.path, output.position)

    return take


def _to_metrics(metrics: Metrics) -> Callable[[Output, Event | None], None]:
    def take(output: Output, event: Event | None) -> None:
        if isinstance(output, TransitionMade):
            metrics.on_transition(output.transition)

    return take


def _to_notifier(notifier: Notifier) -> Callable[[Output, Event | None], None]:
    def take(output: Output, event: Event | None) -> None:
        if isinstance(output, TransitionMade):
            notifier.on_transition(output.transition, replayed=output.replayed, recovered=output.recovered)
        elif isinstance(output, SessionRemoved):
            notifier.on_removed(output.removed.session_id)

    return take


def open_store(state_dir: Path) -> Store:
    """The database; a corrupt or unreadable one is moved aside and started afresh."""
    path = state_dir / DB_NAME
    try:
        return Store(path)
    except StoreError as exc:
        if no_space(exc):
            raise
        aside = move_aside(path)
        log.warning(
            "database unreadable; moved aside and rebuilding from the transcripts",
            path=str(path), moved_to=str(aside), error=str(exc),
        )
        return Store(path)


def start_engine(engine: Engine, previous: Previous) -> None:
    """Classify every existing transcript, with the cyclic GC paused.

    Start-up makes hundreds of thousands of objects that all stay alive (one state per
    transcript) or are freed by reference counting (the decoded lines): collecting while
    they pile up is pure cost (~50 ms with 5,000 sessions). Afterwards the survivors are
    frozen, so later full collections do not walk them again on every pass.
    """
    gc.disable()
    try:
        engine.start(previous)
    finally:
        gc.freeze()
        gc.enable()
