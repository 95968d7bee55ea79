"""The HTTP side: /health, /api, /events (SSE), /hooks, /metrics and the web panel.

Routes follow shared/contract.md. Every request passes `guard` first: the Host header
must name this daemon on loopback (defeats DNS rebinding), and a state-changing request
must not come from another web origin. No CORS headers are ever sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from aiohttp_sse import EventSourceResponse
from sessiond import __version__
from sessiond.config import Config
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import EventFilter, EventHub, Subscriber, encode_frame
from sessiond.hooks.hold import hold_for_answer, hold_seconds
from sessiond.protocol import (
    AGENTS,
    STATUSES,
    ComponentHealth,
    Health,
    JSONDict,
    Reset,
    Session,
    Shutdown,
    Snapshot,
)
from sessiond.web.access import LOGIN_HINT, Access, login_cookie
from sessiond.web.connections import ConnectionGuard
from sessiond.web.metrics import Metrics

if TYPE_CHECKING:
    from sessiond.terminals.service import Terminals

log = structlog.get_logger(__name__)

HOOK_BODY_LIMIT = 1024 * 1024
SSE_SOCKET_BUFFER = 256 * 1024
# (agent, payload, loop time received, the agent's pid as the forwarder reported it)
HookHandler = Callable[[str, JSONDict, float, int | None], None]
# The hook forwarder's header: the pid of the process that ran it (the agent or its shell).
AGENT_PID_HEADER = "X-Sessiond-Agent-Pid"

_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(eq=False)
class Context:
    """Everything the request handlers need, in one place."""

    config: Config
    engine: Engine
    hub: EventHub
    token: str  # the token at start; `access` follows rotations
    metrics: Metrics
    components: Callable[[], dict[str, ComponentHealth]]
    started: float = field(default_factory=time.monotonic)
    port: int = 0
    hook_handler: HookHandler | None = None
    # Where each agent runs: focus, typing, and answering a prompt by its keys.
    terminals: Terminals | None = None
    extra_routes: list[Callable[[web.Application], None]] = field(default_factory=list)
    streams: set[Subscriber] = field(default_factory=set)
    snapshot_cache: tuple[tuple[int, EventFilter], bytes] | None = None
    access: Access = field(init=False)
    connections: ConnectionGuard = field(init=False)

    def __post_init__(self) -> None:
        self.access = Access(self.token, self.config.token_file)
        self.connections = ConnectionGuard(self.config.head_timeout_s, self.config.max_connections)

    def allowed_hosts(self) -> set[str]:
        port = self.port
        return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}

    def token_ok(self, request: web.Request) -> bool:
        """The Bearer token itself (hooks, the CLI): not the panel's cookie."""
        header = request.headers.get("Authorization", "")
        scheme, _, supplied = header.partition(" ")
        return scheme.lower() == "bearer" and bool(supplied.strip()) and self.access.token_matches(
            supplied.strip()
        )


CONTEXT: web.AppKey[Context] = web.AppKey("sessiond_context", Context)


def ctx_of(request: web.Request) -> Context:
    return request.app[CONTEXT]


@web.middleware
async def guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    ctx = ctx_of(request)
    ctx.connections.head_seen(request.transport)
    allowed = ctx.allowed_hosts()
    if not ctx.config.allow_remote and request.headers.get("Host", "") not in allowed:
        return error_response(403, "This daemon only answers requests addressed to it on loopback.")
    if not _public(request, ctx) and not ctx.access.allows(request):
        return _unauthorized(request)
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        # Browsers always send Origin on cross-site writes; agents' hooks send none.
        if origin is not None and origin not in {f"http://{h}" for h in allowed}:
            return error_response(403, "Cross-origin requests are not accepted.")
    if (request.content_length or 0) > HOOK_BODY_LIMIT:
        # Refused on the header: no handler waits for a body that may never come.
        return error_response(413, "The request body is larger than 1 MB.")
    response = await handler(request)
    if not response.prepared:
        response.headers.update(_SECURITY_HEADERS)
    return response


def _public(request: web.Request, ctx: Context) -> bool:
    """`/health` answers anyone on this machine (not remote ones); `/login` is how one logs in."""
    if request.method not in ("GET", "HEAD"):
        return False
    return request.path == "/login" or (request.path == "/health" and not ctx.config.allow_remote)


def _unauthorized(request: web.Request) -> web.Response:
    if "text/html" in request.headers.get("Accept", ""):
        page = f"<!doctype html><title>sessiond</title><p>{escape(LOGIN_HINT)}</p>"
        return web.Response(status=401, text=page, content_type="text/html", charset="utf-8",
                            headers={**_SECURITY_HEADERS, "Content-Security-Policy": _CSP})
    return error_response(401, LOGIN_HINT)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=_SECURITY_HEADERS)


def build_app(ctx: Context) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=HOOK_BODY_LIMIT)
    app[CONTEXT] = ctx
    app.router.add_get("/health", health)
    app.router.add_get("/api/sessions", list_sessions)
    app.router.add_get("/api/sessions/{id}", get_session)
    # HEAD of an event stream makes no sense (and aiohttp's implicit HEAD would run the
    # stream handler): 405.
    app.router.add_get("/events", events, allow_head=False)
    app.router.add_post("/hooks/{agent}", hooks)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    app.router.add_get("/login", login)
    app.router.add_get(r"/{name:[A-Za-z0-9_-]+\.(?:js|css|svg|png|ico)}", static)
    for add in ctx.extra_routes:
        add(app)
    app.on_shutdown.append(_close_streams)
    return app


# -- health and API -------------------------------------------------------------


def current_health(ctx: Context) -> tuple[Health, bool]:
    """The daemon's health, and whether it can do its job at all."""
    components = ctx.components()
    serving = components.get("watcher", ComponentHealth("failed")).status != "failed"
    ok = all(c.status == "ok" for c in components.values())
    quarantined = ctx.engine.quarantined()
    return (
        Health(
            status="ok" if ok and serving else "degraded",
            version=__version__,
            pid=os.getpid(),
            uptime_s=time.monotonic() - ctx.started,
            sessions=len(ctx.engine.sessions),
            clients=ctx.hub.clients,
            last_event_id=ctx.hub.last_id,
            components=components,
            extra={"quarantined": quarantined} if quarantined else {},
        ),
        serving,
    )


async def health(request: web.Request) -> web.Response:
    report, serving = current_health(ctx_of(request))
    return web.json_response(report.to_json(), status=200 if serving else 503)


async def list_sessions(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wanted = _filter_from(request)
    sessions = [s.to_json() for s in ctx.engine.snapshot()]
    sessions = [s for s in sessions if wanted.matches_session(s)]
    return web.json_response({"sessions": sessions, "last_event_id": ctx.hub.last_id})


async def get_session(request: web.Request) -> web.Response:
    """One session, with the user's last prompt and the agent's last reply (for the
    panel's detail view: not in the stream or the list, where they would weigh on every
    event)."""
    engine = ctx_of(request).engine
    session = engine.sessions.get(request.match_info["id"])
    if session is None:
        return error_response(404, "No such session.")
    last_prompt, last_reply = engine.conversation(session.id)
    return web.json_response({**session.to_json(), "last_prompt": last_prompt, "last_reply": last_reply})


async def metrics(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    text = ctx.metrics.render(ctx.engine, ctx.hub)
    return web.Response(text=text, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


def acted_on(request: web.Request) -> Session | web.Response:
    """The session an action (decision, focus, input) names, or the answer refusing it:
    404 for an unknown one, 409 for another machine's (contract: it is answered there)."""
    ctx = ctx_of(request)
    sid = request.match_info["id"]
    session = ctx.engine.sessions.get(sid)
    if session is None:
        return error_response(404, f"No session {sid!r}.")
    if session.host not in ("", ctx.config.name):
        return error_response(409, f"That session runs on {session.host}: act on it there (sessiond acts "
                           "only on this machine's agents).")
    return session


async def json_body(request: web.Request) -> Any:
    """The request's JSON, or None when it is not JSON (the handler answers 400)."""
    try:
        return json.loads(await request.read())
    except (ValueError, RecursionError):
        return None


def _agent_pid(request: web.Request) -> int | None:
    value = request.headers.get(AGENT_PID_HEADER, "")
    return int(value) if value.isdigit() and 1 < int(value) < 2**31 else None


async def hooks(request: web.Request) -> web.Response:
    received = asyncio.get_running_loop().time()
    ctx = ctx_of(request)
    if not ctx.token_ok(request):
        return error_response(401, "A valid Authorization: Bearer token is required.")
    agent = request.match_info["agent"]
    if agent not in AGENTS:
        return error_response(404, f"Unknown agent {agent!r}.")
    try:
        payload = json.loads(await request.read())
    except (ValueError, RecursionError):  # ValueError: bad JSON, bad UTF-8, huge integers
        return error_response(400, "The hook payload is not valid JSON.")
    if not isinstance(payload, dict):
        return error_response(400, "The hook payload must be a JSON object.")
    if ctx.hook_handler is not None:
        try:
            ctx.hook_handler(agent, payload, received, _agent_pid(request))
        except Exception:
            log.exception("hook handling failed", agent=agent)
    seconds = hold_seconds(request, agent, payload, ctx.config)
    if seconds is not None:
        answer = await hold_for_answer(ctx.engine, payload, seconds)
        if answer is not None:
            return web.json_response(answer.hook_body())
    # No body unless the user answered: Claude Code reads a JSON body as a hook decision.
    return web.Response(status=204)


# -- the event stream ------------------------------------------------------------


def _filter_from(request: web.Request) -> EventFilter:
    q = request.query
    return EventFilter(agent=q.get("agent"), session=q.get("session"), status=q.get("status"),
                       host=q.get("host"))


def _last_seen(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return -1  # unparseable: treated like an id we no longer hold


def _snapshot_frame(ctx: Context, wanted: EventFilter) -> bytes:
    # Building the snapshot of thousands of sessions takes tens of milliseconds; clients
    # that connect between two events get the same bytes. (What changes without an event
    # -- a reason naming a newer line, last_activity -- is what a client following the
    # stream would not have seen either.)
    key = (ctx.hub.last_id, wanted)
    if ctx.snapshot_cache is not None and ctx.snapshot_cache[0] == key:
        return ctx.snapshot_cache[1]
    sessions = [s.to_json() for s in ctx.engine.snapshot()]
    data = Snapshot([s for s in sessions if wanted.matches_session(s)], ctx.hub.last_id)
    frame = encode_frame("snapshot", data.to_json(), ctx.hub.last_id)
    ctx.snapshot_cache = (key, frame)
    return frame


def _opening(ctx: Context, wanted: EventFilter, last_seen: int | None) -> bytes:
    """What a client gets first: a replay of what it missed, or a (reset +) snapshot."""
    retry = f"retry: {ctx.config.sse_retry_ms}\n\n".encode()
    if last_seen is None:
        return retry + _snapshot_frame(ctx, wanted)
    missed = ctx.hub.events_after(last_seen)
    if missed is None:
        reset = encode_frame("reset", Reset(ctx.hub.last_id, last_seen).to_json())
        return retry + reset + _snapshot_frame(ctx, wanted)
    return retry + b"".join(e.frame for e in missed if wanted.matches(e))


async def events(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    wanted = _filter_from(request)
    if wanted.status is not None and wanted.status not in STATUSES:
        return error_response(400, f"Unknown status {wanted.status!r}.")
    # The last slots are the panel's (its login cookie): scripts cannot lock the owner out.
    reserved = 0 if ctx.access.by_cookie(request) else ctx.config.panel_sse_slots
    if ctx.hub.clients >= max(0, ctx.config.max_sse_clients - reserved):
        response = error_response(503, "Too many event-stream clients; try again later.")
        response.headers["Retry-After"] = "5"
        return response
    # Start from committed events only; then subscribe and build the opening in one step,
    # with no await in between, so that every later event lands in the backlog exactly once.
    await ctx.hub.settled()
    sub = ctx.hub.subscribe(wanted)
    opening = _opening(ctx, wanted, _last_seen(request))
    ctx.streams.add(sub)
    transport = request.transport
    if transport is not None:
        sub.on_overflow = transport.abort
        # A fixed kernel send buffer per stream: what a client does not read then stays
        # in our own buffers, where the memory budget sees (and bounds) it.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SSE_SOCKET_BUFFER)
    resp = EventSourceResponse(ping_interval=ctx.config.sse_ping_s)

    async def write(data: bytes) -> bool:
        """Write within the memory budget; False when this client was cut off for it."""
        unsent = transport.get_write_buffer_size() if transport is not None else 0
        sub.set_socket_bytes(unsent + len(data))
        ctx.hub.keep_within_budget()
        if sub.overflowed:
            return False
        await resp.write(data)
        sub.set_socket_bytes(transport.get_write_buffer_size() if transport is not None else 0)
        return True

    try:
        await resp.prepare(request)
        written = await write(opening)
        while written:
            await sub.ready.wait()
            if sub.closed:
                await resp.write(encode_frame("shutdown", Shutdown().to_json()))
                break
            if sub.overflowed:
                break
            written = await write(sub.take())
        if sub.overflowed:
            log.warning("dropping an SSE client that holds too much unread data")
    except ConnectionResetError:
        pass  # the client went away (or was cut off for not reading)
    finally:
        ctx.streams.discard(sub)
        ctx.hub.unsubscribe(sub)
        resp.stop_streaming()
    return resp


async def _close_streams(app: web.Application) -> None:
    """On shutdown, tell every SSE client first, then let their handlers finish."""
    ctx = app[CONTEXT]
    for sub in list(ctx.streams):
        sub.close()
    for _ in range(50):
        if not ctx.streams:
            break
        await asyncio.sleep(0.01)


# -- the web panel ----------------------------------------------------------------


def _ui_file(name: str) -> bytes | None:
    try:
        return resources.files("sessiond.ui").joinpath(name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


async def index(request: web.Request) -> web.Response:
    page = _ui_file("index.html")
    if page is None:
        return error_response(500, "The web panel is not installed.")
    # The page holds no secret: its requests carry the HttpOnly cookie `/login` set.
    return web.Response(
        text=page.decode("utf-8"),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"},
    )


async def login(request: web.Request) -> web.Response:
    """`sessiond open` opens `/login?token=…`: set the panel's cookie, then drop the token
    from the address bar at once (a redirect to `/`, never cached, no referrer)."""
    access = ctx_of(request).access
    supplied = request.query.get("token", "")
    if not supplied or not access.token_matches(supplied):
        return error_response(401, "This login link is not valid (the token may have been rotated); "
                           "run `sessiond open` for a new one.")
    response = web.Response(status=303, headers={**_SECURITY_HEADERS, "Location": "/",
                                                 "Cache-Control": "no-store"})
    login_cookie(response, access)
    return response


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = _ui_file(name)
    if body is None:
        return error_response(404, "Not found.")
    suffix = name[name.rfind(".") :]
    return web.Response(
        body=body,
        content_type=_CONTENT_TYPES[suffix].split(";")[0],
        headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"},
    )


