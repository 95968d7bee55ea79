"""`/api/controls`, `/api/mute`, `/api/unmute`: the panel's (and scripts') notification controls.

Writes need the daemon's token (`Authorization: Bearer`), besides the Origin check every
write passes. The panel gets the token inside its own page, which no other origin can read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from sessiond.notify.backend import change_controls, load_controls
from sessiond.notify.policy import Controls, mute_limit_problem, project_name_problem
from sessiond.protocol import format_ts, utcnow
from sessiond.store.db import Store, StoreError, no_space
from sessiond.web.routes import CONTEXT, Context, error_response

STORE: web.AppKey[Store] = web.AppKey("sessiond_store", Store)


def add_routes(store: Store) -> Any:
    def add(app: web.Application) -> None:
        app[STORE] = store
        app.router.add_get("/api/controls", get_controls)
        app.router.add_post("/api/mute", mute)
        app.router.add_post("/api/unmute", unmute)

    return add


def _view(controls: Controls) -> dict[str, Any]:
    now = utcnow()
    active = controls.pruned(now)
    quiet = controls.quiet_hours
    return {
        **active.to_json(),
        "muted": {p: format_ts(u) if u else None for p, u in sorted(active.mutes.items())},
        "quiet": {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"} if quiet else None,
    }


async def get_controls(request: web.Request) -> web.Response:
    ctx: Context = request.app[CONTEXT]
    controls, _ = load_controls(ctx.config, request.app[STORE])
    return web.json_response(_view(controls))


async def _project_from(request: web.Request) -> tuple[str, dict[str, Any]] | web.Response:
    ctx: Context = request.app[CONTEXT]
    if not ctx.access.allows(request):  # the guard checked already; writes check again
        return error_response(401, "A valid token or the panel's login is required.")
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("project"), str):
        return error_response(400, "Send a JSON object with a \"project\" name.")
    project = body["project"].strip()
    problem = project_name_problem(project)
    if problem is not None:
        return error_response(400, problem)
    return project, body


async def mute(request: web.Request) -> web.Response:
    parsed = await _project_from(request)
    if isinstance(parsed, web.Response):
        return parsed
    project, body = parsed
    seconds = body.get("for_s")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0
    ):
        return error_response(400, "for_s must be a positive number of seconds.")
    now = utcnow()
    until = now + timedelta(seconds=seconds) if seconds is not None else None
    ctx: Context = request.app[CONTEXT]
    current, _ = load_controls(ctx.config, request.app[STORE])
    problem = mute_limit_problem(current, project, now)
    if problem is not None:
        return error_response(409, problem)
    return _saved(lambda: change_controls(ctx.config, request.app[STORE],
                                          lambda c: c.with_mute(project, until, now)))


async def unmute(request: web.Request) -> web.Response:
    parsed = await _project_from(request)
    if isinstance(parsed, web.Response):
        return parsed
    project, _ = parsed
    ctx: Context = request.app[CONTEXT]
    return _saved(lambda: change_controls(ctx.config, request.app[STORE], lambda c: c.without_mute(project)))


def _saved(change: Callable[[], object]) -> web.Response:
    """204 once the change is stored; 503 with one sentence when it cannot be."""
    try:
        change()
    except (StoreError, sqlite3.Error, OSError) as exc:
        reason = "the disk is full" if no_space(exc) else "the database cannot be written"
        return error_response(503, f"The change cannot be saved: {reason}.")
    return web.Response(status=204)
