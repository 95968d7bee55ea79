"""A scripted model for the real OpenCode: an OpenAI-compatible chat endpoint on 127.0.0.1.

`python fake_model.py PORT COMMAND`: OpenCode's title request gets a title; a turn's first
request gets a short text and one `bash` call running COMMAND; once the tool's result
comes back, the reply is "Done." with finish reason `stop`. Streams chunks as OpenAI's
API does (`data: {...}` lines, then `data: [DONE]`). No network, no real model.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aiohttp import web


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    messages = body.get("messages") or [{}]
    first = json.dumps(messages[0])
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if "title generator" in first:
        await response.write(chunk({"role": "assistant", "content": "Run the scripted command"}))
        await response.write(chunk({}, "stop"))
    elif messages[-1].get("role") == "tool" or "tools" not in body:
        await response.write(chunk({"role": "assistant", "content": "Done."}))
        await response.write(chunk({}, "stop"))
    else:
        call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "bash", "arguments": ""}}
        arguments = json.dumps({"command": request.app["command"], "description": "scripted"})
        await response.write(chunk({"role": "assistant", "content": "Let me run it:"}))
        await response.write(chunk({"tool_calls": [call]}))
        await response.write(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}))
        await response.write(chunk({}, "tool_calls"))
    await response.write(b"data: [DONE]\n\n")
    return response


def main() -> None:
    app = web.Application()
    app["command"] = sys.argv[2]
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
