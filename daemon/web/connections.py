"""Connections that cost without asking: bounded.

A connection must send a complete request head within `head_timeout` (half-sent
requests held forever, slowloris), and at most `max_connections` are open at once:
beyond it, the oldest connections still waiting for their first head are closed. The
daemon's own streams and answered requests are never touched here. Together with the
head timeout, idle connections cannot exhaust the daemon's file descriptors, so
`/health` keeps answering.

aiohttp has no head timeout, so its protocol objects are wrapped in a small proxy that
watches the connection's life (`GuardedSockSite`); the guard middleware reports each
request head as it arrives (`head_seen`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_runner import BaseSite

log = structlog.get_logger(__name__)

# asyncio accepts up to this many connections per wake-up (and it is the listen backlog).
ACCEPT_BACKLOG = 128


class ConnectionGuard:
    def __init__(self, head_timeout: float, max_connections: int) -> None:
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self.open = 0
        self.closed_slow = 0
        self.closed_over_limit = 0
        # Transports that have not sent a complete head yet, oldest first, with their timer.
        self._waiting: OrderedDict[asyncio.BaseTransport, asyncio.TimerHandle] = OrderedDict()
        # Closed by us, not yet gone (their connection_lost comes in a later turn).
        self._closing: set[asyncio.BaseTransport] = set()

    def opened(self, transport: asyncio.BaseTransport) -> None:
        self.open += 1
        loop = asyncio.get_running_loop()
        self._waiting[transport] = loop.call_later(self.head_timeout, self._too_slow, transport)
        while self.open - len(self._closing) > self.max_connections and len(self._waiting) > 1:
            oldest, timer = self._waiting.popitem(last=False)
            timer.cancel()
            self.closed_over_limit += 1
            self._closing.add(oldest)
            oldest.close()

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self.open -= 1
        self._closing.discard(transport)
        timer = self._waiting.pop(transport, None)
        if timer is not None:
            timer.cancel()

    def head_seen(self, transport: asyncio.BaseTransport | None) -> None:
        timer = self._waiting.pop(transport, None) if transport is not None else None
        if timer is not None:
            timer.cancel()

    def _too_slow(self, transport: asyncio.BaseTransport) -> None:
        if self._waiting.pop(transport, None) is not None:
            self.closed_slow += 1
            self._closing.add(transport)
            transport.close()


class _WatchedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, with its opening and closing reported."""

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._inner.connection_made(transport)
        self._guard.opened(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard.closed(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSockSite(web.SockSite):
    """`web.SockSite` whose connections are watched by a `ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, sock: Any, guard: ConnectionGuard) -> None:
        super().__init__(runner, sock)
        self._guard = guard

    async def start(self) -> None:
        await BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        factory: Callable[[], asyncio.Protocol] = lambda: _WatchedProtocol(server(), self._guard)  # noqa: E731
        self._server = await asyncio.get_running_loop().create_server(
            factory, sock=self._sock, backlog=ACCEPT_BACKLOG
        )
