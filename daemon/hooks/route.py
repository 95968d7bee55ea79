"""The daemon's side of the agents' hooks: the `POST /hooks/{agent}` handler and `GET /api/hooks`.

`server.hooks` checks the token, parses the JSON and answers 204; it calls the handler
made here, which counts the event for /metrics and hands it to `Engine.hook_event`.
Everything is in memory: a hook is answered in well under 5 ms.

`GET /api/hooks` tells `sessiond hooks status` when the daemon last heard each agent's
hooks: `{"agents": {"claude": {"last_heard": ISO-8601 | null, "events": N}, ...},
"approval_agents": [...], "sessions": N}`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from sessiond.engine.coordinator import Engine
from sessiond.hooks.reconcile import MAX_LABELS, event_label
from sessiond.protocol import AGENTS, JSONDict, format_ts
from sessiond.web.metrics import Metrics
from sessiond.web.routes import CONTEXT, HookHandler


def make_handler(
    engine: Engine, metrics: Metrics, on_agent_pid: Callable[[str, int], None] | None = None,
) -> HookHandler:
    """`on_agent_pid(session_id, pid)`: the forwarder said which process ran it."""

    def handle(agent: str, payload: JSONDict, received: float, agent_pid: int | None) -> None:
        key = (agent, event_label(agent, payload))
        if key not in metrics.hooks and len(metrics.hooks) >= MAX_LABELS:
            key = (agent, "other")  # labels stay bounded whatever events arrive
        metrics.hooks[key] += 1
        sid = engine.hook_event(agent, payload, received)
        if sid and agent_pid is not None and on_agent_pid is not None:
            on_agent_pid(sid, agent_pid)

    return handle


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/hooks", hooks_seen)


async def hooks_seen(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    book = ctx.engine.hooks
    counts: dict[str, int] = {}
    for (agent, _event), n in ctx.metrics.hooks.items():
        counts[agent] = counts.get(agent, 0) + n
    agents = {
        agent: {
            "last_heard": format_ts(book.heard[agent]) if agent in book.heard else None,
            "events": counts.get(agent, 0),
        }
        for agent in AGENTS
    }
    return web.json_response({
        "agents": agents,
        "approval_agents": sorted(book.approval_agents),
        "sessions": len(book.sessions),
    })
