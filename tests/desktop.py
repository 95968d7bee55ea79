"""A private D-Bus session bus with the tests' own notification server, as processes.

For tests of the real daemon subprocess: the daemon gets `DBUS_SESSION_BUS_ADDRESS` of a
bus that only the test uses, where `tests/fake_notifications.py` owns
org.freedesktop.Notifications and logs every call as a JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fake_notifications import start_private_bus

HERE = Path(__file__).resolve().parent


@dataclass
class NotificationServer:
    address: str
    log: Path

    def control(self, method: str, nid: int, text: str) -> None:
        """Click a toast (`InvokeAction`) or type into its reply field (`Reply`), as a user."""
        subprocess.run([
            "dbus-send", f"--bus={self.address}", "--dest=org.freedesktop.Notifications",
            "--type=method_call", "--print-reply", "/org/freedesktop/Notifications",
            f"org.sessiond.FakeNotifications.{method}", f"uint32:{nid}", f"string:{text}",
        ], capture_output=True, text=True, timeout=30, check=True)

    def calls(self, method: str = "Notify") -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        return [c for c in (json.loads(line) for line in lines if line.strip())
                if c.get("method") == method]

    def wait_for(self, count: int, method: str = "Notify", timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.05)
        return self.calls(method)


@contextmanager
def notification_server(
    directory: Path, capabilities: list[str] | None = None,
) -> Iterator[NotificationServer]:
    directory.mkdir(parents=True, exist_ok=True)
    bus, address = start_private_bus(directory)
    log = directory / "notify-calls.jsonl"
    server = subprocess.Popen(
        [sys.executable, str(HERE / "fake_notifications.py"), "--log", str(log), "--address", address,
         *(["--capabilities", ",".join(capabilities)] if capabilities else [])],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.strip() == "ready", f"fake notification server said {line!r}"
        yield NotificationServer(address, log)
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
        bus.terminate()
        bus.wait(10)
