"""SSE clients in worker processes, timing each transition the moment its bytes arrive.

Each worker process holds many connections to `/events` on one asyncio loop. A client
is a bare `asyncio.Protocol` (HTTP/1.1, chunked decoding, SSE framing): it takes
`time.monotonic_ns()` first thing in `data_received`, so the time recorded is when the
kernel handed the bytes over, not when a busy worker got round to parsing them.
CLOCK_MONOTONIC is system-wide on Linux, so it compares with the writer's clock.

Records are `(session_id, k, to, source, received_ns, at)`: the k-th transition of that
session seen by that connection, and its `at` (the timestamp of the line that made it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

Record = tuple[str, int, str, str, int, str]


class SSEProtocol(asyncio.Protocol):
    def __init__(self, worker: Worker, request: bytes) -> None:
        self.worker = worker
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.headers_done = False
        self.chunked = False
        self.raw = bytearray()  # undecoded chunked bytes
        self.chunk_left = 0  # data bytes left in the current chunk
        self.skip = 0  # CRLF bytes left after a chunk
        self.body = bytearray()  # decoded SSE text not yet split into frames
        self.seen: dict[str, int] = {}
        self.snapshot = False
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost += 1
        self.worker.changed()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if not self.headers_done:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.head[:end]).lower()
            self.status = int(head.split(b" ", 2)[1])
            self.chunked = b"transfer-encoding: chunked" in head
            self.headers_done = True
            data = bytes(self.head[end + 4 :])
            self.head.clear()
        if self.chunked:
            self._dechunk(data)
        else:
            self.body += data
        self._frames(now)

    def _dechunk(self, data: bytes) -> None:
        raw = self.raw
        raw += data
        pos = 0
        while pos < len(raw):
            if self.skip:
                n = min(self.skip, len(raw) - pos)
                self.skip -= n
                pos += n
            elif self.chunk_left:
                n = min(self.chunk_left, len(raw) - pos)
                self.body += raw[pos : pos + n]
                self.chunk_left -= n
                pos += n
                if not self.chunk_left:
                    self.skip = 2
            else:
                nl = raw.find(b"\r\n", pos)
                if nl < 0:
                    break
                size = int(bytes(raw[pos:nl]).split(b";")[0], 16)
                pos = nl + 2
                if size == 0:
                    break
                self.chunk_left = size
        del raw[:pos]

    def _frames(self, now: int) -> None:
        body = self.body
        if b"\r" in body:
            body[:] = body.replace(b"\r\n", b"\n")  # aiohttp-sse pings end in CRLF
        start = 0
        while True:
            end = body.find(b"\n\n", start)
            if end < 0:
                break
            self._frame(bytes(body[start:end]), now)
            start = end + 2
        del body[:start]

    def _frame(self, frame: bytes, now: int) -> None:
        if frame.startswith(b"event: snapshot") or b"\nevent: snapshot" in frame:
            self.snapshot = True
            self.worker.changed()
            return
        if b"event: transition\n" not in frame:
            return
        payload = json.loads(frame[frame.index(b"\ndata: ") + 7 :])
        sid = payload["session_id"]
        k = self.seen.get(sid, 0) + 1
        self.seen[sid] = k
        self.worker.record((sid, k, payload["to"], payload["source"], now, payload["at"]))


class Worker:
    def __init__(self, conn: Connection, stream: bool) -> None:
        self.conn = conn
        self.stream = stream
        self.records: list[Record] = []
        self.protocols: list[SSEProtocol] = []
        self.lost = 0
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self._changed.set()

    def record(self, rec: Record) -> None:
        if self.stream:
            self.conn.send(("events", [rec]))
        else:
            self.records.append(rec)

    async def wait_for(self, test: Any, timeout: float) -> bool:
        async with asyncio.timeout(timeout):
            while not test():
                self._changed.clear()
                await self._changed.wait()
        return True


async def _worker(conn: Connection, port: int, token: str, count: int, query: str, stream: bool) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(conn, stream)
    request = (f"GET /events{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode()
    for first in range(0, count, 50):
        batch = range(first, min(first + 50, count))
        results = await asyncio.gather(
            *(loop.create_connection(lambda: SSEProtocol(worker, request), "127.0.0.1", port)
              for _ in batch))
        worker.protocols.extend(p for _, p in results)
    try:
        await worker.wait_for(lambda: all(p.snapshot for p in worker.protocols) or worker.lost, 60)
    except TimeoutError:
        pass
    ok = sum(p.snapshot for p in worker.protocols)
    conn.send(("ready", ok, [p.status for p in worker.protocols if not p.snapshot][:5]))
    done = asyncio.Event()

    def on_command() -> None:
        try:
            command = conn.recv()
        except EOFError:
            done.set()
            return
        if command == "collect":
            conn.send(("records", worker.records, worker.lost))
            worker.records = []
        elif command == "stop":
            done.set()

    loop.add_reader(conn.fileno(), on_command)
    await done.wait()
    for p in worker.protocols:
        if p.transport is not None:
            p.transport.close()


def worker_main(conn: Connection, port: int, token: str, count: int, query: str, stream: bool) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker(conn, port, token, count, query, stream))


class ClientPool:
    """`total` SSE clients spread over worker processes of up to `per_worker` each."""

    def __init__(self, port: int, token: str, total: int, *, per_worker: int = 500, query: str = "",
                 stream: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.total = total
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        sizes = [per_worker] * (total // per_worker) + ([total % per_worker] if total % per_worker else [])
        for size in sizes:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, port, token, size, query, stream),
                               daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.connected = 0
        for conn in self.conns:
            if not conn.poll(120):
                raise TimeoutError("an SSE client worker did not connect")
            _, ok, bad = conn.recv()
            self.connected += ok
            if bad:
                raise RuntimeError(f"SSE clients refused: HTTP {bad}")

    def collect(self) -> tuple[list[list[Record]], int]:
        """Every record since the last collect, per worker, and the connections lost."""
        for conn in self.conns:
            conn.send("collect")
        out, lost = [], 0
        for conn in self.conns:
            _, records, n = conn.recv()
            out.append(records)
            lost += n
        return out, lost

    def events(self, timeout: float) -> Iterator[Record]:
        """Streamed records (stream=True), as they come, until `timeout` passes quietly."""
        conn = self.conns[0]
        while conn.poll(timeout):
            _, records = conn.recv()
            yield from records

    def wait_transition(self, sid: str, to: str, timeout: float) -> Record | None:
        deadline = time.monotonic() + timeout
        conn = self.conns[0]
        while (left := deadline - time.monotonic()) > 0:
            if not conn.poll(left):
                return None
            _, records = conn.recv()
            for rec in records:
                if rec[0] == sid and rec[2] == to:
                    found: Record = rec
                    return found
        return None

    def drain(self) -> None:
        for conn in self.conns:
            while conn.poll(0):
                conn.recv()

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send("stop")
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
