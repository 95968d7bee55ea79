"""`sessiond run --supervise`: a small parent that keeps the daemon running.

For machines without a service manager (WSL without systemd, containers). The parent
starts the daemon as a child process, asks `GET /health` every few seconds, and restarts
the child with backoff when it exits or stops answering (a hung child, e.g. a stopped
one, is SIGKILLed first). After `max_failures` failures within `failure_window` seconds
it gives up with one error line and exit code 1. SIGTERM and SIGINT are forwarded to the
child (SIGHUP becomes SIGTERM); the parent exits 0 once the child has exited cleanly. A
child that exits 0 on its own was stopped on purpose and is not restarted.

The child runs in its own process group, so a Ctrl-C in the terminal reaches it once,
through the parent, instead of twice.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import structlog
from sessiond.service.parent import SUPERVISOR_PID_ENV

log = structlog.get_logger(__name__)

# What systemd hands to the process it started: meant for the parent, not the child.
_PARENT_ONLY_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

Outcome = Literal["exited", "hung", "stopped"]
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD's handler: it only needs to exist so the wake-up socket hears of exits."""


def daemon_command(*run_options: str) -> list[str]:
    """The child's argv: this interpreter running `sessiond run` with `run_options`
    (the options `run` was given, without `--supervise`)."""
    return [sys.executable, "-m", "sessiond", "run", *run_options]


def check_health(host: str, port: int, timeout: float) -> bool:
    """True when `GET /health` gets any complete HTTP answer within `timeout` seconds.

    Any status counts: a daemon that answers 503 is alive and reports its own trouble
    (in-process supervision deals with it); the parent only replaces one that is gone
    or does not answer at all.
    """
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/health", headers={"Accept": "application/json"})
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return True


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


@dataclass
class Supervisor:
    """Runs one child at a time; `run()` returns the parent's exit code."""

    child_args: Sequence[str]
    port: int
    host: str = "127.0.0.1"
    check_every: float = 3.0
    health_timeout: float = 2.0
    # A child that has not answered once within this long after starting is hung.
    start_timeout: float = 60.0
    # A child that answered before is hung after this many failed checks in a row.
    unhealthy_after: int = 2
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    max_failures: int = 5
    failure_window: float = 60.0
    # How long a child may take to exit after a forwarded SIGTERM/SIGINT.
    stop_timeout: float = 10.0
    env: Mapping[str, str] | None = None
    # The file the daemon's event loop touches every second (see tasks.heartbeat_loop):
    # a child that does not answer /health but whose loop still beats is busy, not hung.
    heartbeat: Path | None = None
    # The daemon's runtime.json, written once it listens: from then on a child that does
    # not answer is hung after `unhealthy_after` checks, not only after `start_timeout`.
    runtime: Path | None = None

    _child: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _stop_signal: int | None = field(default=None, init=False, repr=False)
    _forwarded_to: int | None = field(default=None, init=False, repr=False)
    _wake: socket.socket | None = field(default=None, init=False, repr=False)
    _wake_writer: socket.socket | None = field(default=None, init=False, repr=False)
    _old_wakeup_fd: int = field(default=-1, init=False, repr=False)
    _old_handlers: dict[int, _Handler] = field(default_factory=dict, init=False, repr=False)

    # --- signals -----------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
            self._forward()
        else:
            # A second request to stop: do not wait for the child any longer.
            self._signal_child(signal.SIGKILL)

    def _forward(self) -> None:
        child = self._child
        if child is None or self._stop_signal is None or self._forwarded_to == child.pid:
            return
        self._forwarded_to = child.pid
        sig = signal.SIGTERM if self._stop_signal == signal.SIGHUP else self._stop_signal
        self._signal_child(sig)

    def _signal_child(self, sig: int) -> None:
        child = self._child
        if child is not None and child.returncode is None:
            try:
                child.send_signal(sig)
            except ProcessLookupError:
                pass

    def _install(self) -> None:
        """Signal handlers and a wake-up socket; only possible on the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _STOP_SIGNALS:
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        # Any signal (SIGCHLD included: a child exit) wakes the waits below at once.
        self._old_handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _ignore)
        self._wake, self._wake_writer = socket.socketpair()
        self._wake.setblocking(False)
        self._wake_writer.setblocking(False)
        self._old_wakeup_fd = signal.set_wakeup_fd(self._wake_writer.fileno())

    def _restore(self) -> None:
        if self._wake is None or self._wake_writer is None:
            return
        signal.set_wakeup_fd(self._old_wakeup_fd)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()
        self._wake.close()
        self._wake_writer.close()
        self._wake = self._wake_writer = None

    def _sleep_until(self, deadline: float) -> None:
        """Sleep until `deadline` (monotonic), or less when a signal arrives."""
        timeout = max(0.0, deadline - time.monotonic())
        if self._wake is None:
            time.sleep(min(timeout, 0.1))
            return
        select.select([self._wake], [], [], timeout)
        try:
            while self._wake.recv(4096):
                pass
        except BlockingIOError:
            pass

    # --- the child ---------------------------------------------------------------------

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ if self.env is None else self.env)
        for name in _PARENT_ONLY_ENV:
            env.pop(name, None)
        # The child watches this pid: when the supervisor dies (even kill -9), it exits too.
        env[SUPERVISOR_PID_ENV] = str(os.getpid())
        child = subprocess.Popen(
            list(self.child_args), env=env, stdin=subprocess.DEVNULL, process_group=0
        )
        self._child = child
        log.info("supervisor started the daemon", pid=child.pid)
        # A stop signal that arrived while starting it is passed on now.
        self._forward()
        return child

    def _kill(self, child: subprocess.Popen[bytes]) -> None:
        """SIGKILL the child's process group (works on a stopped process too) and reap it."""
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            self._signal_child(signal.SIGKILL)
        child.wait()

    def _stop(self, child: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + self.stop_timeout
        while child.poll() is None and time.monotonic() < deadline:
            self._sleep_until(min(deadline, time.monotonic() + 0.2))
        if child.poll() is None:
            log.warning(
                f"the daemon did not exit within {self.stop_timeout:g} s; killing it",
                pid=child.pid,
            )
            self._kill(child)
        rc = child.wait()
        log.info("the daemon stopped", pid=child.pid, status=describe_exit(rc))
        return rc

    def _watch(self, child: subprocess.Popen[bytes]) -> tuple[Outcome, int | None]:
        started = time.monotonic()
        answered = False
        misses = 0
        next_check = started + min(self.check_every, 0.5)
        while True:
            if self._stop_signal is not None:
                return "stopped", self._stop(child)
            rc = child.poll()
            if rc is not None:
                return "exited", rc
            if time.monotonic() >= next_check:
                ok = check_health(self.host, self.port, self.health_timeout)
                next_check = time.monotonic() + self.check_every
                if ok:
                    if not answered:
                        log.info("the daemon is answering /health", pid=child.pid)
                    answered, misses = True, 0
                elif child.poll() is None and self._stop_signal is None:
                    if not answered and listening(self.runtime, child.pid):
                        answered = True  # it said it listens: the missed-checks rule applies
                    if answered and beating(self.heartbeat, within=self.check_every + 2.0):
                        log.info("the daemon is busy (its loop beats, /health is slow); waiting",
                                 pid=child.pid)
                        continue
                    misses += 1
                    waited = time.monotonic() - started
                    if (answered and misses >= self.unhealthy_after) or (
                        not answered and waited >= self.start_timeout
                    ):
                        log.warning(
                            "the daemon stopped answering /health; killing it"
                            if answered
                            else f"the daemon did not answer /health within "
                            f"{self.start_timeout:g} s; killing it",
                            pid=child.pid,
                        )
                        self._kill(child)
                        return "hung", None
                continue
            self._sleep_until(next_check)

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        if self.port <= 0:
            log.error("--supervise needs a fixed port to check /health; give --port N")
            return 1
        self._install()
        try:
            return self._loop()
        finally:
            child = self._child
            if child is not None and child.poll() is None:
                self._kill(child)
            self._restore()

    def _loop(self) -> int:
        failures: deque[float] = deque()
        while True:
            if self._stop_signal is not None:
                return 0
            try:
                child = self._spawn()
            except OSError as exc:
                log.error(f"cannot start the daemon: {exc}", argv=list(self.child_args))
                return 1
            outcome, rc = self._watch(child)
            if outcome == "stopped":
                return 0 if rc == 0 else 1
            if outcome == "exited" and rc == 0:
                log.info("the daemon exited cleanly; the supervisor exits too", pid=child.pid)
                return 0
            now = time.monotonic()
            failures.append(now)
            while failures and now - failures[0] > self.failure_window:
                failures.popleft()
            status = "hung" if outcome == "hung" else describe_exit(rc)
            if len(failures) >= self.max_failures:
                log.error(
                    f"sessiond failed {len(failures)} times within "
                    f"{self.failure_window:g} s (last: {status}); giving up"
                )
                return 1
            delay = min(self.backoff_max, self.backoff_initial * 2 ** (len(failures) - 1))
            log.warning(
                f"the daemon failed ({status}); restarting it in {delay:g} s", pid=child.pid
            )
            deadline = time.monotonic() + delay
            while self._stop_signal is None and time.monotonic() < deadline:
                self._sleep_until(deadline)


def listening(runtime: Path | None, pid: int) -> bool:
    """Has the child written its runtime.json (it does once it listens)?"""
    if runtime is None:
        return False
    try:
        return bool(json.loads(runtime.read_text("utf-8")).get("pid") == pid)
    except (OSError, ValueError, AttributeError):
        return False


def beating(heartbeat: Path | None, *, within: float) -> bool:
    """Did the daemon's event loop touch its heartbeat file within the last `within` s?"""
    if heartbeat is None:
        return False
    try:
        return time.time() - heartbeat.stat().st_mtime < within
    except OSError:
        return False


def run_supervised(
    child_args: list[str],
    port: int,
    *,
    heartbeat: Path | None = None,
    runtime: Path | None = None,
    check_every: float = 3.0,
    health_timeout: float = 2.0,
    start_timeout: float = 60.0,
    unhealthy_after: int = 2,
    backoff_initial: float = 1.0,
    backoff_max: float = 30.0,
    max_failures: int = 5,
    failure_window: float = 60.0,
    stop_timeout: float = 10.0,
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
) -> int:
    """Run `child_args` (see `daemon_command`) under supervision; returns the exit code.

    Call it from the main thread (signal handling); blocks until the supervisor stops.
    """
    return Supervisor(
        child_args=child_args,
        port=port,
        host=host,
        check_every=check_every,
        health_timeout=health_timeout,
        start_timeout=start_timeout,
        unhealthy_after=unhealthy_after,
        backoff_initial=backoff_initial,
        backoff_max=backoff_max,
        max_failures=max_failures,
        failure_window=failure_window,
        stop_timeout=stop_timeout,
        env=env,
        heartbeat=heartbeat,
        runtime=runtime,
    ).run()
