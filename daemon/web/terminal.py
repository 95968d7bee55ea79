"""`POST /api/sessions/{id}/focus` and `POST /api/sessions/{id}/input` (contract: "Acting
on a wait"). The panel, toasts and `sessiond focus` / `sessiond send` come through here;
the guard has checked the token or cookie, the Host and the Origin.

Typing is security: it is refused unless the session waits (never into a working agent),
the text is typed literally (no key names, no control characters), and it is logged.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from sessiond.terminals.run import ActionFailed
from sessiond.terminals.service import Terminals
from sessiond.terminals.typed import text_problem
from sessiond.web.routes import acted_on, error_response, json_body


def routes(terminals: Terminals) -> Callable[[web.Application], None]:
    def add(app: web.Application) -> None:
        app.router.add_post("/api/sessions/{id}/focus", lambda r: focus(r, terminals))
        app.router.add_post("/api/sessions/{id}/input", lambda r: type_input(r, terminals))

    return add


async def focus(request: web.Request, terminals: Terminals) -> web.Response:
    session = acted_on(request)
    if isinstance(session, web.Response):
        return session
    try:
        terminal = await terminals.focus(session.id)
    except ActionFailed as exc:
        return error_response(404, str(exc))
    return web.json_response({"terminal": terminal.to_json()})


async def type_input(request: web.Request, terminals: Terminals) -> web.Response:
    session = acted_on(request)
    if isinstance(session, web.Response):
        return session
    body = await json_body(request)
    problem = text_problem(body.get("text") if isinstance(body, dict) else None)
    enter = body.get("enter", True) if isinstance(body, dict) else True
    if problem is None and not isinstance(enter, bool):
        problem = '"enter" must be true or false.'
    if problem is None and not body["text"] and not enter:
        problem = "There is nothing to type."
    if problem is not None:
        return error_response(400, problem)
    try:
        await terminals.type_into(session.id, body["text"], enter)
    except ActionFailed as exc:
        return error_response(409, str(exc))
    return web.json_response({"ok": True})
