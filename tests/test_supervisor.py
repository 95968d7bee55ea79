"""`sessiond run --supervise`: real processes and real signals.

The supervisor runs in its own process (as `run --supervise` does) around a stand-in
child: a small Python script serving `GET /health` with `http.server`, which can also
crash at once, exit cleanly at once, or never listen. Waits poll with generous limits;
nothing here asserts how fast anything happened.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHILD = r"""
import http.server, json, os, signal, sys, time
port, mode, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def stop(signum, frame):
    with open(marker, "a") as f:
        f.write(f"{os.getpid()} {signum}\n")
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
if mode == "crash":
    sys.exit(3)
if mode == "clean":
    sys.exit(0)
if mode == "mute":
    while True:
        time.sleep(1)
busy = [False]
if mode == "busy":
    # Like a daemon whose loop works through a huge burst: /health hangs (SIGUSR1) while
    # the loop still touches its heartbeat file, until SIGUSR2 stops that too (hung).
    import threading
    heartbeat, beating = sys.argv[4], [True]

    def beat():
        while True:
            if beating[0]:
                open(heartbeat, "a").close()
                os.utime(heartbeat)
            time.sleep(0.1)

    threading.Thread(target=beat, daemon=True).start()
    signal.signal(signal.SIGUSR1, lambda *_: busy.__setitem__(0, True))
    signal.signal(signal.SIGUSR2, lambda *_: beating.__setitem__(0, False))

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        while busy[0]:
            time.sleep(0.05)
        body = json.dumps({"status": "ok", "pid": os.getpid()}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", port), Health)
if os.environ.get("RUNTIME"):  # as the daemon does once it listens
    with open(os.environ["RUNTIME"], "w") as f:
        json.dump({"pid": os.getpid(), "port": port}, f)
    if mode == "stop-at-once":  # hangs right after it listens
        os.kill(os.getpid(), signal.SIGSTOP)
try:
    server.serve_forever()
finally:
    server.server_close()
"""

SUPERVISE = r"""
import json, sys
from sessiond.service.supervisor import run_supervised
from pathlib import Path
spec = json.loads(sys.argv[1])
options = spec["options"]
for key in ("heartbeat", "runtime"):
    if key in options:
        options[key] = Path(options[key])
sys.exit(run_supervised(spec["child"], spec["port"], **options))
"""

FAST = {
    "check_every": 0.2,
    "health_timeout": 0.5,
    "start_timeout": 20.0,
    "backoff_initial": 0.1,
    "backoff_max": 1.0,
    "stop_timeout": 10.0,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def health_pid(port: int) -> int | None:
    """The pid answering /health on `port`, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            pid: int = json.load(resp)["pid"]
            return pid
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what or predicate}")
        time.sleep(0.05)


@dataclass
class Supervised:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    marker: Path
    seen: set[int] = field(default_factory=set)

    def healthy_pid(self, other_than: int | None = None) -> int:
        def check() -> int | None:
            pid = health_pid(self.port)
            return pid if pid is not None and pid != other_than else None

        pid: int = wait_until(check, what="a healthy child")
        self.seen.add(pid)
        return pid

    def supervised_pid(self, other_than: int | None = None) -> int:
        """A healthy child that the supervisor has also seen answering."""
        pid = self.healthy_pid(other_than)
        wait_until(
            lambda: f"the daemon is answering /health pid={pid}" in self.output(),
            what=f"the supervisor seeing {pid} answer",
        )
        return pid

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []
    child_script = tmp_path / "child.py"
    child_script.write_text(CHILD)

    def start(mode: str = "serve", **options: Any) -> Supervised:
        port = _free_port()
        marker = tmp_path / f"signals-{len(started)}.txt"
        log = tmp_path / f"supervisor-{len(started)}.log"
        spec = {
            "child": [sys.executable, str(child_script), str(port), mode, str(marker),
                      *([options["heartbeat"]] if "heartbeat" in options else [])],
            "port": port,
            "options": FAST | options,
        }
        env = dict(os.environ, RUNTIME=options["runtime"]) if "runtime" in options else None
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", SUPERVISE, json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        handle = Supervised(proc, port, log, marker)
        started.append(handle)
        return handle

    yield start

    for handle in started:
        if handle.proc.poll() is None:
            handle.proc.kill()
        handle.proc.wait(30)
        # Children live in their own process group: clean up any the test saw.
        for pid in handle.seen:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_kill_9_child_is_restarted_and_healthy(supervise: Callable[..., Supervised]) -> None:
    sup = supervise()
    first = sup.healthy_pid()
    os.kill(first, signal.SIGKILL)
    second = sup.healthy_pid(other_than=first)
    assert second != first
    wait_until(lambda: not alive(first), what="the killed child reaped")
    assert "restarting it" in sup.output()
    # ...and it keeps supervising the new child.
    os.kill(second, signal.SIGKILL)
    sup.healthy_pid(other_than=second)
    assert sup.proc.poll() is None


def test_stopped_child_is_detected_killed_and_replaced(
    supervise: Callable[..., Supervised],
) -> None:
    sup = supervise()
    # Stopped after it answered once (before that, `start_timeout` applies).
    first = sup.supervised_pid()
    os.kill(first, signal.SIGSTOP)
    try:
        second = sup.healthy_pid(other_than=first)
        wait_until(lambda: not alive(first), what="the hung child killed")
    finally:
        try:
            os.kill(first, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert second != first
    assert "stopped answering /health; killing it" in sup.output()


def test_a_busy_child_whose_loop_beats_is_not_killed_but_a_silent_one_is(
    supervise: Callable[..., Supervised], tmp_path: Path
) -> None:
    """A daemon working through a huge burst answers /health slowly; its event loop still
    touches the heartbeat file, so it is busy, not hung. Without the heartbeat it was killed."""
    sup = supervise("busy", heartbeat=str(tmp_path / "heartbeat"))
    first = sup.supervised_pid()
    os.kill(first, signal.SIGUSR1)  # /health stops answering; the heartbeat goes on
    wait_until(lambda: sup.output().count("the daemon is busy") >= 5, what="five busy checks")
    assert alive(first) and "killing it" not in sup.output()
    os.kill(first, signal.SIGUSR2)  # now the loop is silent too: hung
    wait_until(lambda: not alive(first), what="the silent child killed")
    assert "stopped answering /health; killing it" in sup.output()
    sup.healthy_pid(other_than=first)


def test_repeated_fast_failures_give_up_loudly(supervise: Callable[..., Supervised]) -> None:
    sup = supervise("crash", max_failures=3, failure_window=60.0)
    assert sup.wait() == 1
    out = sup.output()
    assert out.count("giving up") == 1
    assert "failed 3 times within 60 s (last: exit code 3); giving up" in out
    assert out.count("supervisor started the daemon") == 3


def test_child_that_never_answers_is_killed(supervise: Callable[..., Supervised]) -> None:
    sup = supervise("mute", start_timeout=0.5, max_failures=2)
    assert sup.wait() == 1
    out = sup.output()
    assert "did not answer /health within 0.5 s; killing it" in out
    assert "(last: hung); giving up" in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_is_forwarded_and_the_supervisor_exits_0(
    supervise: Callable[..., Supervised], sig: signal.Signals
) -> None:
    sup = supervise()
    child = sup.healthy_pid()
    sup.proc.send_signal(sig)
    assert sup.wait() == 0
    # The child got the same signal, once, and is gone.
    assert sup.marker.read_text().split("\n") == [f"{child} {int(sig)}", ""]
    wait_until(lambda: not alive(child), what="the child gone")


def test_sighup_stops_the_child_with_sigterm(supervise: Callable[..., Supervised]) -> None:
    sup = supervise()
    child = sup.healthy_pid()
    sup.proc.send_signal(signal.SIGHUP)
    assert sup.wait() == 0
    assert sup.marker.read_text() == f"{child} {int(signal.SIGTERM)}\n"


def test_clean_child_exit_is_not_restarted(supervise: Callable[..., Supervised]) -> None:
    sup = supervise("clean")
    assert sup.wait() == 0
    out = sup.output()
    assert out.count("supervisor started the daemon") == 1
    assert "exited cleanly" in out


def test_port_0_is_refused(supervise: Callable[..., Supervised]) -> None:
    from sessiond.service.supervisor import run_supervised

    assert run_supervised([sys.executable, "-c", "pass"], 0) == 1


def test_daemon_command() -> None:
    from sessiond.service.supervisor import daemon_command

    assert daemon_command("--port", "7331", "--no-notify") == [
        sys.executable, "-m", "sessiond", "run", "--port", "7331", "--no-notify",
    ]


def test_a_child_that_hangs_right_after_it_listens_is_replaced_by_the_missed_checks_rule(
    supervise: Callable[..., Supervised], tmp_path: Path,
) -> None:
    """It never answered /health, but its runtime file says it listens: two missed checks
    replace it (before, only the 60 s start timeout did)."""
    runtime = tmp_path / "runtime.json"
    sup = supervise("stop-at-once", runtime=str(runtime), start_timeout=600.0)
    first = wait_until(lambda: runtime.exists() and json.loads(runtime.read_text())["pid"], what="listening")
    sup.seen.add(first)
    wait_until(lambda: "stopped answering /health; killing it" in sup.output(), what="the hung child killed")
    assert "did not answer /health within" not in sup.output()
    wait_until(lambda: not alive(first), what="the hung child gone")


def test_the_daemon_exits_when_its_supervisor_is_killed(tmp_path: Path) -> None:
    """The real daemon under `run --supervise`: the parent killed with SIGKILL, the child
    exits on its own (no orphan holding the port), and a second supervisor starts."""
    from tests.daemon_proc import make_daemon

    daemon = make_daemon(tmp_path / "d")
    port = _free_port()
    env = daemon.env

    def supervised() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "sessiond", "run", "--supervise", "--port", str(port),
                                 "--no-notify"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    parent = supervised()
    try:
        child = wait_until(lambda: health_pid(port), what="the supervised daemon answering")
        parent.kill()
        parent.wait(10)
        wait_until(lambda: not alive(child), what="the orphaned daemon exiting")
        again = supervised()
        try:
            assert wait_until(lambda: health_pid(port), what="a second supervisor's daemon") != child
        finally:
            again.terminate()
            again.wait(30)
    finally:
        if parent.poll() is None:
            parent.kill()
