"""The daemon process, uvicorn-style: `Server(config).run()` is what `sessiond run` calls.

`startup` takes the state-dir lock (one daemon per state dir), binds, loads the token,
builds the components (`app.build`), classifies existing transcripts, listens and writes
`runtime.json`; `main_loop` waits for SIGTERM or SIGINT; `shutdown` tells every SSE
client (`event: shutdown`) and closes everything, well within 2 s.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import resource
import signal
import socket
import sqlite3

import structlog
from aiohttp import web
from sessiond import __version__, app, statedir
from sessiond.config import LOOPBACK_HOSTS, Config
from sessiond.protocol import RuntimeInfo, utcnow
from sessiond.service import parent, sdnotify
from sessiond.service.tasks import HEARTBEAT_NAME, describe_old_sessions, heartbeat_loop, measure_loop_lag
from sessiond.statedir import DaemonError, StateLock
from sessiond.store.db import StoreError, no_space
from sessiond.watch.target import WatchStatus
from sessiond.watch.watcher import sweep_loop, watch_loop
from sessiond.web.connections import ACCEPT_BACKLOG, GuardedSockSite

log = structlog.get_logger(__name__)

MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 64

__all__ = ["DaemonError", "Server"]


# Descriptors kept for everything but connections: transcripts being read, the
# database, inotify, logs; and twice the listen backlog, since asyncio accepts up to a
# backlog's worth of connections in one go before the oldest idle ones are closed.
FD_RESERVE = 256


def raise_fd_limit(wanted: int) -> int:
    """Each SSE client and each other connection needs a descriptor, and a soft limit of
    1024 (or 256) leaves too few beside `max_sse_clients`: raise it, up to the hard limit.
    Returns the limit in force."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        return wanted if soft == resource.RLIM_INFINITY else int(soft)
    except (OSError, ValueError):
        log.debug("cannot raise the open-file limit")
        return wanted


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.parts: app.Components | None = None
        self._lock = StateLock(config.state_dir)
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()

    def run(self) -> int:
        return asyncio.run(self.serve())

    async def serve(self) -> int:
        try:
            await self.startup()
            await self.main_loop()
        finally:
            await self.shutdown()
        return 0

    def stop(self) -> None:
        self._stop.set()

    # -- lifecycle ------------------------------------------------------------------

    async def startup(self) -> None:
        config = self.config
        if config.host not in LOOPBACK_HOSTS and not config.allow_remote:
            raise DaemonError(
                f"Refusing to listen on {config.host}: sessiond serves every prompt you type, "
                "so it only listens on loopback unless you pass --allow-remote."
            )
        fds = raise_fd_limit(max(8192, config.max_sse_clients + 1024))
        # Connections never take the last descriptors: accept() failing with EMFILE
        # would lock everyone out, /health included.
        config.max_connections = max(16, min(config.max_connections, fds - FD_RESERVE - 2 * ACCEPT_BACKLOG))
        try:
            statedir.ensure_state_dir(config.state_dir)
            self._lock.acquire()
            sockets = self._bind()
            config.port = int(sockets[0].getsockname()[1])
            parts = self.parts = app.build(config, statedir.load_token(config.token_file))
        except (OSError, StoreError, sqlite3.Error) as exc:
            if no_space(exc):
                raise DaemonError(f"The disk that holds {config.state_dir} is full; "
                                  "free some space, then start sessiond again.") from exc
            raise
        await parts.notifier.start()
        await asyncio.to_thread(app.sync_mirrors, parts)
        app.start_engine(parts.engine, parts.previous)
        self._runner = web.AppRunner(
            parts.web_app,
            handler_cancellation=True,
            shutdown_timeout=config.shutdown_timeout,
            access_log=None,
            # Explicit header limits (aiohttp's defaults today): a request line or one
            # header field over 8 KiB, or over 64 fields, is refused before any handler.
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            max_headers=MAX_HEADERS,
            # Idle keep-alive connections are closed (a new head gets its own timeout).
            keepalive_timeout=15.0,
        )
        await self._runner.setup()
        parts.context.port = config.port
        for sock in sockets:
            await GuardedSockSite(self._runner, sock, parts.context.connections).start()
        statedir.write_runtime(config.runtime_file, RuntimeInfo(
            pid=os.getpid(), port=config.port, url=config.base_url, version=__version__,
            started_at=utcnow(),
        ))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self._spawn_tasks(parts)
        sdnotify.notify("READY=1")
        log.info("sessiond listening", url=config.base_url, sessions=len(parts.engine.sessions))

    async def main_loop(self) -> None:
        await self._stop.wait()
        log.info("sessiond stopping")
        sdnotify.notify("STOPPING=1")

    async def shutdown(self) -> None:
        """Close whatever `startup` got to, in reverse order."""
        if self._runner is not None:
            await self._runner.cleanup()  # SSE clients get `event: shutdown` first
        parts = self.parts
        if parts is not None:
            if parts.bus is not None:
                # First: a redis command being cancelled can leave its task waiting on a
                # future nobody completes; with the connections closed, each one ends.
                await parts.bus.close()
            await parts.tasks.stop()
            await parts.notifier.close()
            parts.engine.close()
            parts.persistence.close()
            parts.store.close()
            statedir.remove_runtime(self.config.runtime_file, os.getpid())
        self._lock.release()

    def _spawn_tasks(self, parts: app.Components) -> None:
        config, engine, tasks = self.config, parts.engine, parts.tasks
        status = WatchStatus()
        tasks.spawn(
            "watcher",
            lambda: watch_loop(engine, status, step_ms=config.watch_step_ms,
                               debounce_ms=config.watch_debounce_ms, backend=config.watch_backend),
        )
        tasks.spawn("sweep", lambda: sweep_loop(engine, status, config.sweep_every))
        tasks.spawn("loop_lag", lambda: measure_loop_lag(parts.record_lag))
        tasks.spawn("heartbeat", lambda: heartbeat_loop(config.state_dir / HEARTBEAT_NAME))
        tasks.spawn("terminals", parts.terminals.run)
        tasks.spawn("describe_old", lambda: describe_old_sessions(engine))
        for mirror in parts.mirrors:
            tasks.spawn(f"mirror_{mirror.agent}", mirror.run)
        supervisor = parent.supervisor_pid(os.environ)
        if supervisor is not None:
            parent.die_with_parent()
            tasks.spawn("parent", lambda: parent.watch_parent(supervisor, self.stop))
        if parts.bus is not None:
            tasks.spawn("bus_out", parts.bus.send_loop)
            tasks.spawn("bus_in", parts.bus.read_loop)
            tasks.spawn("bus_alive", parts.bus.heartbeat_loop)
        # Fed from the event loop itself: a stalled loop stops feeding systemd's watchdog.
        tasks.spawn("watchdog", sdnotify.watchdog_loop)

    # -- listening --------------------------------------------------------------------

    def _bind(self) -> list[socket.socket]:
        """Bind before anything else starts, so a busy port fails fast and alone."""
        config = self.config
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        try:
            primary = _listening_socket(family, config.host, config.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DaemonError(
                    f"Port {config.port} on {config.host} is already in use "
                    "(another sessiond, or another program); choose one with --port or SESSIOND_PORT."
                ) from exc
            raise DaemonError(f"Cannot listen on {config.host}:{config.port}: {exc.strerror}.") from exc
        sockets = [primary]
        port = int(primary.getsockname()[1])
        if config.host == "127.0.0.1" and socket.has_ipv6:
            # Also on ::1 when the machine has it, so `localhost` resolving to ::1 works.
            try:
                sockets.append(_listening_socket(socket.AF_INET6, "::1", port))
            except OSError:
                log.debug("::1 not available; listening on 127.0.0.1 only")
        bound_to = [str(sock.getsockname()[0]) for sock in sockets]
        if not config.allow_remote and not all(ipaddress.ip_address(a).is_loopback for a in bound_to):
            # `localhost` resolved to a network address (an odd /etc/hosts): refuse.
            for sock in sockets:
                sock.close()
            raise DaemonError(
                f"Refusing to listen on {config.host} ({', '.join(bound_to)}): it is not a loopback "
                "address, and sessiond only listens on loopback unless you pass --allow-remote."
            )
        return sockets


def _listening_socket(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Reuse a port left in TIME_WAIT by a restart; SO_REUSEADDR on Linux still
        # refuses a port another socket is listening on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
