"""`POST /api/sessions/{id}/decision`: answer a held permission request (contract:
"Acting on a wait"). The panel, the toast and `sessiond approve` all come through here.

`{"id": DECISION_ID, "behavior": "allow"|"deny", "message": "…", "via": "panel"}`:
200 `{"ok": true}` once the agent's hook has its answer; 409 when that request is no
longer pending (answered in the terminal, expired, replaced) or answering is turned off;
404 for an unknown session. The guard has checked the token or cookie and the Origin.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from sessiond.engine.rules import KEYS_DECISION
from sessiond.hooks.decisions import Answer, message_of
from sessiond.terminals.run import ActionFailed
from sessiond.terminals.service import Terminals
from sessiond.web.routes import CONTEXT, acted_on, error_response, json_body

VIA = frozenset({"panel", "toast", "cli", "api"})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/sessions/{id}/decision", decide)


async def decide(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    session = acted_on(request)
    if isinstance(session, web.Response):
        return session
    sid = session.id
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) \
            or body.get("behavior") not in ("allow", "deny"):
        return error_response(400, 'Send {"id": DECISION_ID, "behavior": "allow" or "deny"}.')
    if not ctx.config.decisions:
        return error_response(409, "Answering permission requests outside the terminal is turned off "
                           "([actions] decisions = false).")
    via = str(body["via"]) if body.get("via") in VIA else "api"
    if body["id"].startswith(KEYS_DECISION):
        return await _answer_by_keys(ctx.terminals, sid, body["id"], body["behavior"])
    answer = Answer(body["behavior"], message_of(body.get("message")), via)
    held = ctx.engine.answer_decision(sid, body["id"], answer)
    if held is None:
        return error_response(409, "That permission request is no longer pending: it was answered in the "
                           "terminal, expired or replaced.")
    # 200 once the agent's hook has its answer (its response is on its way).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(held.sent.wait(), 2.0)
    return web.json_response({"ok": True})


async def _answer_by_keys(terminals: Terminals | None, sid: str, decision_id: str, behavior: str
                          ) -> web.Response:
    """A prompt answered by typing the agent's own keys into its terminal (Codex)."""
    if terminals is None:
        return error_response(409, "This daemon does not drive terminals.")
    try:
        answered = await terminals.answer_by_keys(sid, decision_id, behavior)
    except ActionFailed as exc:
        return error_response(409, str(exc))
    if not answered:
        return error_response(409, "That permission request is no longer pending: it was answered in the "
                           "terminal, or a newer one replaced it.")
    return web.json_response({"ok": True})
