"""A real Server-Sent Events client for tests (aiohttp, parsing the wire format itself)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class SSEEvent:
    event: str
    data: Any
    id: int | None


class SSEClient:
    def __init__(self, url: str, *, token: str | None = None, last_event_id: int | None = None) -> None:
        self.url = url
        self.token = token
        self.last_event_id = last_event_id
        self.events: asyncio.Queue[SSEEvent] = asyncio.Queue()
        self.retry: int | None = None
        self.comments = 0
        self.closed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.status: int | None = None
        self.connected = asyncio.Event()

    async def __aenter__(self) -> SSEClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 15)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        assert self._session is not None
        headers = {"Accept": "text/event-stream"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        try:
            async with self._session.get(self.url, headers=headers) as resp:
                self.status = resp.status
                self.connected.set()
                if resp.status != 200:
                    return
                fields: dict[str, str] = {}
                data: list[str] = []
                async for raw in resp.content:
                    line = raw.decode().rstrip("\r\n")
                    if line == "":
                        if data or fields:
                            self._dispatch(fields, data)
                        fields, data = {}, []
                    elif line.startswith(":"):
                        self.comments += 1
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            data.append(value)
                        elif name == "retry":
                            self.retry = int(value)
                        else:
                            fields[name] = value
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            self.connected.set()
            self.closed.set()

    def _dispatch(self, fields: dict[str, str], data: list[str]) -> None:
        if not data:
            return
        event_id = int(fields["id"]) if "id" in fields else None
        if event_id is not None:
            self.last_event_id = event_id
        payload = json.loads("\n".join(data))
        self.events.put_nowait(SSEEvent(fields.get("event", "message"), payload, event_id))

    async def next(self, timeout: float = 15.0) -> SSEEvent:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def next_of(self, kind: str, timeout: float = 15.0) -> SSEEvent:
        """The next event of `kind`, skipping others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next(max(0.01, deadline - loop.time()))
            if event.event == kind:
                return event

    async def transition_to(self, status: str, timeout: float = 15.0) -> SSEEvent:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next_of("transition", max(0.01, deadline - loop.time()))
            if event.data["to"] == status:
                return event

    def drain(self) -> list[SSEEvent]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out
