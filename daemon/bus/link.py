"""The link to the bus: this machine's changes out, every other machine's in (Redis
Streams, through redis-py's asyncio client; imported only when a bus is configured).

- **Out**: every local `session`, `transition` and `removed` event is queued (bounded) and
  sent in order with `XADD … MAXLEN ~ 100000`; while Redis is unreachable the queue holds
  them and they go out, in order, when it is back. A `snapshot` (the whole local state)
  is queued at start and every `[bus] snapshot_every_s` (5 min), so it sits after
  everything it contains; its latest copy is also kept in `sessiond:snapshot:NAME`.
- **Alive**: `sessiond:alive:NAME` is set with a TTL every `HEARTBEAT_S`; another
  machine's key expiring shows its sessions offline.
- **In**: a blocking `XREAD` from the last position (persisted with the events it
  produced, so a restart resumes exactly there); this machine's own entries are
  skipped; each entry is checked (`wire.decode`) and applied (`engine.remote`). A
  position the stream was trimmed past is rebuilt from every machine's snapshot, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
from redis import asyncio as aioredis
from redis import exceptions as redis_errors
from sessiond.bus import wire
from sessiond.config import Config, name_problem
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import Event
from sessiond.engine.outputs import Output, SessionChanged, SessionRemoved, TransitionMade
from sessiond.logs import WarnOnce
from sessiond.protocol import ComponentHealth

log = structlog.get_logger(__name__)

MAXLEN = 100_000
OUTBOX = 50_000
HEARTBEAT_S = 3.0
HEARTBEAT_TTL_S = 10
BLOCK_MS = 2000
READ_COUNT = 500
SEND_COUNT = 500
POSITION_KEY = "bus_position"
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def stream_id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class BusLink:
    def __init__(self, config: Config, engine: Engine, save_position: Callable[[str], None],
                 position: str | None) -> None:
        assert config.bus_url is not None
        self._snapshot_every_s = config.bus_snapshot_s
        self.name = config.name
        self.where = wire.redacted(config.bus_url)
        self._engine = engine
        self._remote = engine.keeper.remote
        self._save_position = save_position
        self._position = position  # None: never read (first start)
        self._client: Any = aioredis.from_url(
            config.bus_url, socket_connect_timeout=5, socket_timeout=BLOCK_MS / 1000 + 5,
            health_check_interval=30)
        self._outbox: deque[dict[str, bytes]] = deque()
        self._queued = asyncio.Event()
        self._problem: str | None = "connecting"
        self._fatal: str | None = None
        self._warn = WarnOnce(log)
        self.dropped = 0
        self.skipped_bad = 0
        self.applied = 0
        self.sent = 0

    # -- out ------------------------------------------------------------------------

    def on_output(self, output: Output, event: Event | None) -> None:
        """The publisher's outputs: this machine's numbered changes are queued for the bus."""
        if event is None:
            return
        if isinstance(output, SessionChanged | TransitionMade):
            session = output.session if isinstance(output, SessionChanged) else output.transition.session
            if self._remote.is_remote(session):
                return
        elif isinstance(output, SessionRemoved):
            if output.host not in ("", self.name):
                return
        else:
            return
        self._queue(wire.encode(self.name, event.kind, event.id, event.data))  # type: ignore[arg-type]

    def _queue(self, fields: dict[str, bytes]) -> None:
        if len(self._outbox) >= OUTBOX:
            self._outbox.popleft()
            self.dropped += 1
            self._warn.warn("bus", "outbox full", "the bus is unreachable and its queue is full: "
                            "the oldest changes are dropped", limit=OUTBOX)
        self._outbox.append(fields)
        self._queued.set()

    def queue_snapshot(self) -> None:
        local = [s.to_json() for s in self._engine.snapshot() if not self._remote.is_remote(s)]
        self._queue(wire.encode(self.name, "snapshot", 0, {"sessions": local[: wire.MAX_SNAPSHOT_SESSIONS]}))

    async def send_loop(self) -> None:
        while self._fatal is None:
            await self._queued.wait()
            batch = [self._outbox[i] for i in range(min(SEND_COUNT, len(self._outbox)))]
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for fields in batch:
                        pipe.xadd(wire.STREAM, fields, maxlen=MAXLEN, approximate=True)
                    ids = await pipe.execute()
                for fields, entry_id in zip(batch, ids, strict=True):
                    if fields["kind"] == b"snapshot":
                        data = json.loads(fields["data"])
                        await self._client.set(wire.SNAPSHOT_PREFIX + self.name, json.dumps(
                            {"id": entry_id.decode(), "sessions": data["sessions"]}))
            except (redis_errors.RedisError, OSError) as exc:
                await self._failed(exc)
                continue
            for _ in batch:
                self._outbox.popleft()
            self.sent += len(batch)
            self._recovered()
            if not self._outbox:
                self._queued.clear()

    async def heartbeat_loop(self) -> None:
        snapshot_due = 0.0
        loop = asyncio.get_running_loop()
        while self._fatal is None:
            if loop.time() >= snapshot_due:
                self.queue_snapshot()
                snapshot_due = loop.time() + self._snapshot_every_s
            try:
                await self._client.set(wire.HEARTBEAT_PREFIX + self.name, b"1", ex=HEARTBEAT_TTL_S)
                await self._check_hosts()
                self._recovered()
            except (redis_errors.RedisError, OSError) as exc:
                await self._failed(exc, sleep=False)
            await asyncio.sleep(HEARTBEAT_S)

    async def _check_hosts(self) -> None:
        hosts = [h for h in self._remote.hosts() if h != self.name]
        if not hosts:
            return
        alive = await self._client.mget([wire.HEARTBEAT_PREFIX + h for h in hosts])
        for host, value in zip(hosts, alive, strict=True):
            self._remote.set_offline(host, value is None)

    # -- in -------------------------------------------------------------------------

    async def read_loop(self) -> None:
        while self._fatal is None:
            try:
                if self._position is None or await self._trimmed_past():
                    await self._rebuild()
                    continue
                found = await self._client.xread({wire.STREAM: self._position}, count=READ_COUNT,
                                                 block=BLOCK_MS)
                self._recovered()
            except (redis_errors.RedisError, OSError) as exc:
                await self._failed(exc)
                continue
            for _stream, entries in found or []:
                for entry_id, fields in entries:
                    self._apply(fields, catching_up=False)
                    self._position = entry_id.decode()
            if found:
                self._save_position(self._position)

    def _apply(self, fields: dict[bytes, bytes], *, catching_up: bool, after: dict[str, tuple[int, int]]
               | None = None, entry_id: bytes | None = None) -> None:
        if fields.get(b"host") == self.name.encode():
            return
        entry = wire.decode(fields, name_problem)
        if isinstance(entry, wire.BadEntry):
            self.skipped_bad += 1
            log.warning("a bus entry was skipped", host=entry.host, why=entry.why)
            return
        if after is not None and entry_id is not None and \
                stream_id(entry_id) <= after.get(entry.host, (0, 0)):
            return  # older than that machine's snapshot, which already holds it
        self.applied += 1
        if entry.kind == "session" and entry.session is not None:
            self._remote.session(entry.session)
        elif entry.kind == "transition" and entry.transition is not None:
            self._remote.transition(entry.transition, catching_up=catching_up)
        elif entry.kind == "removed" and entry.removed is not None:
            self._remote.removed(entry.host, entry.removed.session_id)
        elif entry.kind == "snapshot":
            self._remote.snapshot(entry.host, entry.sessions)

    async def _trimmed_past(self) -> bool:
        """May entries after our position have been trimmed away? Trimming removes the
        oldest first: our own last entry gone (the first one left is newer), or an empty
        stream that has had newer entries, says so. (At worst, a needless rebuild.)"""
        if self._position is None or stream_id(self._position) == (0, 0):
            return False
        try:
            info = await self._client.xinfo_stream(wire.STREAM)
        except redis_errors.ResponseError:
            return False  # no stream yet: nothing was trimmed
        ours = stream_id(self._position)
        first = info.get("first-entry")
        if first:
            gone = stream_id(first[0]) > ours
        else:
            gone = stream_id(info.get("last-generated-id") or b"0-0") > ours
        if gone:
            log.warning("the bus was trimmed past this daemon's position: rebuilding from each "
                        "machine's snapshot", position=self._position)
            return True
        return False

    async def _rebuild(self) -> None:
        """Every machine's latest snapshot, then the entries after each one."""
        last = await self._client.xrevrange(wire.STREAM, count=1)
        end = last[0][0].decode() if last else "0-0"
        keys = [k async for k in self._client.scan_iter(match=wire.SNAPSHOT_PREFIX + "*", count=100)]
        after: dict[str, tuple[int, int]] = {}
        start = end
        for key in keys:
            host = key.decode(errors="replace")[len(wire.SNAPSHOT_PREFIX):]
            if host == self.name or name_problem(host) is not None:
                continue
            raw = await self._client.get(key)
            try:
                snap = json.loads(raw)
                fields = {b"v": wire.VERSION, b"host": host.encode(), b"kind": b"snapshot", b"id": b"0",
                          b"data": json.dumps({"sessions": snap["sessions"]}).encode()}
                at = stream_id(snap["id"])
            except (ValueError, KeyError, TypeError):
                log.warning("a machine's snapshot on the bus is unreadable; skipped", host=host)
                continue
            self._apply(fields, catching_up=True)
            after[host] = at
            if at < stream_id(start):
                start = f"{at[0]}-{at[1]}"
        # Replay what came after the oldest snapshot, each machine's from its own.
        position = start
        while stream_id(position) < stream_id(end):
            batch = await self._client.xrange(wire.STREAM, min=f"({position}", max=end, count=READ_COUNT)
            if not batch:
                break
            for entry_id, fields in batch:
                self._apply(fields, catching_up=True, after=after, entry_id=entry_id)
                position = entry_id.decode()
        self._position = end
        self._save_position(end)

    # -- health ---------------------------------------------------------------------

    async def _failed(self, exc: BaseException, *, sleep: bool = True) -> None:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # redis-py can turn a cancellation in the middle of a command into a
            # ConnectionError: the daemon is stopping, not the bus failing.
            raise asyncio.CancelledError from exc
        why = _reason(exc)
        if isinstance(exc, redis_errors.AuthenticationError | redis_errors.AuthorizationError) or \
                "WRONGPASS" in str(exc) or "NOPERM" in str(exc):
            self._fatal = f"the bus at {self.where} refused this machine: {why}"
            self._problem = self._fatal
            log.error("the bus refused this daemon; running without it", bus=self.where, reason=why)
            return
        if self._problem != why:
            log.warning("the bus is unreachable; local sessions are still served", bus=self.where,
                        reason=why, queued=len(self._outbox))
        self._problem = why
        if sleep:
            await asyncio.sleep(RETRY_S[min(len(RETRY_S) - 1, 2)])

    def _recovered(self) -> None:
        if self._problem is not None and self._problem != "connecting":
            log.info("the bus is reachable again", bus=self.where, queued=len(self._outbox))
        self._problem = None

    def health(self) -> ComponentHealth:
        if self._problem is not None:
            return ComponentHealth("degraded", f"{self.where}: {self._problem}")
        hosts = len([h for h in self._remote.hosts() if h != self.name])
        return ComponentHealth("ok", f"{self.where} as {self.name}; {hosts} other machine(s) on the board")

    def prometheus(self) -> str:
        return "\n".join([
            "# TYPE sessiond_bus_sent_total counter", f"sessiond_bus_sent_total {self.sent}",
            "# TYPE sessiond_bus_applied_total counter", f"sessiond_bus_applied_total {self.applied}",
            "# TYPE sessiond_bus_skipped_total counter", f"sessiond_bus_skipped_total {self.skipped_bad}",
            "# TYPE sessiond_bus_dropped_total counter", f"sessiond_bus_dropped_total {self.dropped}",
            "# TYPE sessiond_bus_queued gauge", f"sessiond_bus_queued {len(self._outbox)}",
        ])

    async def close(self) -> None:
        self._fatal = self._fatal or "stopping"
        with contextlib.suppress(redis_errors.RedisError, OSError, TimeoutError):  # dead: nothing to close
            await asyncio.wait_for(self._client.connection_pool.disconnect(), 1.0)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
