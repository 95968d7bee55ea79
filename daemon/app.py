"""The daemon process: start-up, the supervised tasks, signals and graceful shutdown.

`Daemon(config).run()` is what `sessiond run` calls. Start-up order: take the state-dir
lock (one daemon per state dir), load the token, classify existing transcripts, listen,
write `runtime.json`, then follow the files. SIGTERM or SIGINT: every SSE client gets
`event: shutdown`, and the process exits 0 well within 2 s.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import gc
import ipaddress
import json
import os
import resource
import secrets
import signal
import socket
from pathlib import Path
from typing import IO

import structlog
from aiohttp import web
from sessiond import __version__
from sessiond.config import LOOPBACK_HOSTS, Config
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import Event, EventHub
from sessiond.hooks import route as hooks_api
from sessiond.notify.desktop import Notifier
from sessiond.protocol import ComponentHealth, RuntimeInfo, utcnow
from sessiond.service import sdnotify
from sessiond.service.tasks import TaskSupervisor, measure_loop_lag
from sessiond.sources import all_sources
from sessiond.store.db import DB_NAME, Store, StoreError
from sessiond.store.persistence import Persistence, Previous
from sessiond.watch.watcher import sweep_loop, watch_loop
from sessiond.web.controls import add_routes as controls_routes
from sessiond.web.metrics import Metrics
from sessiond.web.routes import Context, build_app

log = structlog.get_logger(__name__)

MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 64


class DaemonError(Exception):
    """The daemon cannot start; the message is one sentence for the user."""


def ensure_state_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        # Another user's directory (a shared /tmp path in SESSIOND_STATE_DIR): its owner
        # could read the token and every title stored in it.
        raise DaemonError(f"The state directory {path} belongs to another user; choose another.")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def raise_fd_limit(wanted: int) -> None:
    """Each SSE client and each other connection needs a descriptor, and a soft limit of
    1024 (or 256) leaves too few beside `max_sse_clients`: raise it, up to the hard limit."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError):
        log.debug("cannot raise the open-file limit")


def load_token(path: Path) -> str:
    """The shared secret for hooks and the panel's writes; created 0600 on first start."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def open_store(state_dir: Path) -> Store:
    """The database; a corrupt or unreadable one is moved aside and started afresh."""
    path = state_dir / DB_NAME
    try:
        return Store(path)
    except (StoreError, OSError) as exc:
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{DB_NAME}.corrupt-{stamp}")
        log.warning(
            "database unreadable; moved aside and rebuilding from the transcripts",
            path=str(path), moved_to=str(aside), error=str(exc),
        )
        for suffix in ("", "-wal", "-shm"):
            extra = Path(f"{path}{suffix}")
            if extra.exists():
                extra.replace(Path(f"{aside}{suffix}"))
        return Store(path)


def start_engine(engine: Engine, previous: Previous) -> None:
    """Classify every existing transcript, with the cyclic GC paused.

    Start-up makes hundreds of thousands of objects that all stay alive (one state per
    transcript) or are freed by reference counting (the decoded lines): collecting while
    they pile up is pure cost (~50 ms with 5,000 sessions). Afterwards the survivors are
    frozen, so later full collections do not walk them again on every pass.
    """
    gc.disable()
    try:
        engine.start(previous)
    finally:
        gc.freeze()
        gc.enable()


def read_runtime(path: Path) -> RuntimeInfo | None:
    try:
        return RuntimeInfo.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.hub = EventHub(capacity=config.event_buffer, client_limit=config.client_queue)
        self.engine = Engine(config, self.hub, all_sources())
        self.metrics = Metrics()
        self.tasks = TaskSupervisor()
        self.loop_lag_ms = 0.0
        self._lock_file: IO[str] | None = None
        self._stop = asyncio.Event()
        self.notifier: Notifier
        self.engine.transition_listeners.append(self.metrics.on_transition)

    # -- lifecycle ------------------------------------------------------------------

    def run(self) -> int:
        return asyncio.run(self.serve())

    async def serve(self) -> int:
        config = self.config
        if config.host not in LOOPBACK_HOSTS and not config.allow_remote:
            raise DaemonError(
                f"Refusing to listen on {config.host}: sessiond serves every prompt you type, "
                "so it only listens on loopback unless you pass --allow-remote."
            )
        ensure_state_dir(config.state_dir)
        raise_fd_limit(max(8192, config.max_sse_clients + 1024))
        self._take_lock()
        sockets = self._bind()
        bound_to = [str(sock.getsockname()[0]) for sock in sockets]
        if not config.allow_remote and not all(ipaddress.ip_address(a).is_loopback for a in bound_to):
            # `localhost` resolved to a network address (an odd /etc/hosts): refuse.
            for sock in sockets:
                sock.close()
            raise DaemonError(
                f"Refusing to listen on {config.host} ({', '.join(bound_to)}): it is not a loopback "
                "address, and sessiond only listens on loopback unless you pass --allow-remote."
            )
        config.port = int(sockets[0].getsockname()[1])
        token = load_token(config.token_file)
        store = open_store(config.state_dir)
        persistence = Persistence(store, keep_events=max(config.event_buffer, 10_000))
        last_id, history, previous = persistence.load()
        self.hub.restore(history)
        self.hub.last_id = last_id
        self.hub.listeners.append(persistence.on_event)
        self.engine.offset_listener = persistence.on_offset
        self.notifier = Notifier(config, store)
        await self.notifier.start()
        self.engine.toast_listener = self.notifier.on_transition
        self.hub.listeners.append(self._on_event)
        self.metrics.extra_text.append(self.notifier.stats.prometheus)
        start_engine(self.engine, previous)
        ctx = Context(
            config=config,
            engine=self.engine,
            hub=self.hub,
            token=token,
            metrics=self.metrics,
            components=self.components,
            hook_handler=hooks_api.make_handler(self.engine, self.metrics),
            extra_routes=[controls_routes(store), hooks_api.add_routes],
        )
        runner = web.AppRunner(
            build_app(ctx),
            handler_cancellation=True,
            shutdown_timeout=config.shutdown_timeout,
            access_log=None,
            # Explicit header limits (aiohttp's defaults today): a request line or one
            # header field over 8 KiB, or over 64 fields, is refused before any handler.
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            max_headers=MAX_HEADERS,
        )
        await runner.setup()
        try:
            ctx.port = config.port
            for sock in sockets:
                await web.SockSite(runner, sock).start()
            self._write_runtime(ctx.port)
            self._install_signal_handlers()
            self._spawn_tasks()
            sdnotify.notify("READY=1")
            log.info("sessiond listening", url=config.base_url, sessions=len(self.engine.sessions))
            await self._stop.wait()
            log.info("sessiond stopping")
            sdnotify.notify("STOPPING=1")
        finally:
            await runner.cleanup()
            await self.tasks.stop()
            await self.notifier.close()
            self.engine.close()
            persistence.close()
            store.close()
            self._remove_runtime()
        return 0

    def _on_event(self, event: Event) -> None:
        if event.kind == "removed" and event.session_id is not None:
            self.notifier.on_removed(event.session_id)

    def stop(self) -> None:
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)

    def _spawn_tasks(self) -> None:
        config = self.config
        self.tasks.spawn(
            "watcher",
            lambda: watch_loop(
                self.engine,
                step_ms=config.watch_step_ms,
                debounce_ms=config.watch_debounce_ms,
                backend=config.watch_backend,
            ),
        )
        self.tasks.spawn("sweep", lambda: sweep_loop(self.engine, config.sweep_every))
        self.tasks.spawn("loop_lag", lambda: measure_loop_lag(self._record_lag))
        # Fed from the event loop itself: a stalled loop stops feeding systemd's watchdog.
        self.tasks.spawn("watchdog", sdnotify.watchdog_loop)

    def _record_lag(self, lag_ms: float) -> None:
        self.loop_lag_ms = lag_ms

    def components(self) -> dict[str, ComponentHealth]:
        parts = {k: v for k, v in self.tasks.health.items() if k not in ("loop_lag", "watchdog")}
        parts["notifier"] = self.notifier.health()
        parts["server"] = ComponentHealth("ok", f"loop lag {self.loop_lag_ms:.1f} ms")
        quarantined = self.engine.quarantined()
        parts["transcripts"] = (
            ComponentHealth("degraded", f"{len(quarantined)} file(s) quarantined")
            if quarantined
            else ComponentHealth("ok", f"{len(self.engine.files)} files")
        )
        return parts

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
        return sockets

    # -- single instance and runtime.json ---------------------------------------------

    def _take_lock(self) -> None:
        path = self.config.state_dir / "daemon.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fh = os.fdopen(fd, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            running = read_runtime(self.config.runtime_file)
            where = f" (pid {running.pid}, port {running.port})" if running else ""
            raise DaemonError(
                f"sessiond is already running for {self.config.state_dir}{where}."
            ) from None
        self._lock_file = fh

    def _write_runtime(self, port: int) -> None:
        info = RuntimeInfo(
            pid=os.getpid(),
            port=port,
            url=self.config.base_url,
            version=__version__,
            started_at=utcnow(),
        )
        path = self.config.runtime_file
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info.to_json(), fh)
        os.replace(tmp, path)

    def _remove_runtime(self) -> None:
        running = read_runtime(self.config.runtime_file)
        if running is not None and running.pid == os.getpid():
            self.config.runtime_file.unlink(missing_ok=True)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


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
