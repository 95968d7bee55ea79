"""A notification server of the tests' own, on a private D-Bus session bus.

`FakeNotifications` implements the parts of org.freedesktop.Notifications that
desktop-notifier uses (Notify, GetCapabilities, GetServerInformation, CloseNotification,
the ActionInvoked and NotificationClosed signals) and records every call.

In-process: `await serve(address)` exports it on a new connection to `address`.
As a process, for daemon subprocess tests:

    python tests/fake_notifications.py --log FILE [--address ADDR]

writes one JSON line per call to FILE (`{"method": "Notify", "id": 1, "app_name": ...}`
or `{"method": "CloseNotification", "id": 1}`), prints `ready` once it owns the name, and
stops on SIGTERM/SIGINT. A second interface, `org.sessiond.FakeNotifications`
(`InvokeAction(u id, s key)`, `Reply(u id, s text)`), lets such a test click a toast,
or type into its reply field, from outside.

`start_private_bus(dir)` starts a `dbus-daemon` of its own with a minimal config (no
service activation, so no real notification daemon is ever started).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import BusType, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusDict, DBusInt32, DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
CONTROL_INTERFACE = "org.sessiond.FakeNotifications"
SERVER_INFO = ["sessiond-tests", "sessiond", "1.0", "1.2"]
CLOSED_PROGRAMMATICALLY = 3

StrList = Annotated[list[str], DBusSignature("as")]

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass(frozen=True)
class NotifyCall:
    id: int
    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    expire_timeout: int


@dataclass
class _Record:
    calls: list[NotifyCall] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)


class FakeNotifications(ServiceInterface):
    def __init__(self, capabilities: list[str] | None = None, log: Path | None = None) -> None:
        super().__init__(NAME)
        self.capabilities = capabilities if capabilities is not None else ["actions", "body"]
        self.log = log
        self.calls: list[NotifyCall] = []
        self.closed: list[int] = []
        self.open: set[int] = set()
        self._next_id = 1

    def _write(self, entry: dict[str, Any]) -> None:
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

    @dbus_method()
    def GetCapabilities(self) -> StrList:
        return list(self.capabilities)

    @dbus_method()
    def GetServerInformation(self) -> Annotated[list[str], DBusSignature("ssss")]:
        return list(SERVER_INFO)

    @dbus_method()
    def Notify(
        self,
        app_name: DBusStr,
        replaces_id: DBusUInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: StrList,
        hints: DBusDict,
        expire_timeout: DBusInt32,
    ) -> DBusUInt32:
        nid = replaces_id or self._next_id
        self._next_id += 0 if replaces_id else 1
        call = NotifyCall(
            nid, app_name, replaces_id, app_icon, summary, body, list(actions),
            {k: v.value for k, v in hints.items()}, expire_timeout,
        )
        self.calls.append(call)
        self.open.add(nid)
        self._write({"method": "Notify", **asdict(call)})
        return nid

    @dbus_method()
    def CloseNotification(self, id: DBusUInt32):  # no return annotation: D-Bus reads it
        self.closed.append(id)
        self._write({"method": "CloseNotification", "id": id})
        if id in self.open:
            self.open.discard(id)
            self.NotificationClosed(id, CLOSED_PROGRAMMATICALLY)

    @dbus_signal()
    def NotificationClosed(self, id: int, reason: int) -> Annotated[list[int], DBusSignature("uu")]:
        return [id, reason]

    @dbus_signal()
    def ActionInvoked(self, id: int, action_key: str) -> Annotated[list[Any], DBusSignature("us")]:
        return [id, action_key]

    @dbus_signal()
    def NotificationReplied(self, id: int, text: str) -> Annotated[list[Any], DBusSignature("us")]:
        return [id, text]

    def invoke(self, nid: int, action_key: str) -> None:
        """What a user's click does: the action, then the toast closes."""
        self.open.discard(nid)
        self.ActionInvoked(nid, action_key)


class FakeControl(ServiceInterface):
    """Lets a test in another process click a toast."""

    def __init__(self, server: FakeNotifications) -> None:
        super().__init__(CONTROL_INTERFACE)
        self.server = server

    @dbus_method()
    def InvokeAction(self, id: DBusUInt32, action_key: DBusStr):  # (see CloseNotification)
        self.server.invoke(id, action_key)

    @dbus_method()
    def Reply(self, id: DBusUInt32, text: DBusStr):  # (see CloseNotification)
        """A user typed into the toast's reply field (servers with `inline-reply`)."""
        self.server.open.discard(id)
        self.server.NotificationReplied(id, text)


async def serve(
    address: str | None = None, *, capabilities: list[str] | None = None,
    log: Path | None = None,
) -> tuple[MessageBus, FakeNotifications]:
    """Export a FakeNotifications on the bus at `address` (default: the session bus)."""
    bus = MessageBus(bus_address=address) if address else MessageBus(bus_type=BusType.SESSION)
    await bus.connect()
    server = FakeNotifications(capabilities, log)
    bus.export(PATH, server)
    bus.export(PATH, FakeControl(server))
    reply = await bus.request_name(NAME)
    if reply != RequestNameReply.PRIMARY_OWNER:
        bus.disconnect()
        raise RuntimeError(f"{NAME} is owned already ({reply})")
    return bus, server


def start_private_bus(directory: Path) -> tuple[subprocess.Popen[str], str]:
    """A dbus-daemon of our own; returns the process and its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError("dbus-daemon is not installed (Debian: apt-get install dbus-daemon)")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "bus.conf"
    config.write_text(_BUS_CONFIG.format(dir=directory))
    proc = subprocess.Popen(
        [daemon, f"--config-file={config}", "--print-address", "--nofork"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    proc.stdout.close()  # it prints the address once; no pipe left open
    if not address:
        proc.kill()
        proc.wait()
        raise RuntimeError("dbus-daemon did not print its address")
    return proc, address


async def _main(log: Path, address: str | None, capabilities: list[str] | None) -> None:
    bus, _ = await serve(address, log=log, capabilities=capabilities)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    bus.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="JSON lines, one per call")
    parser.add_argument("--address", default=os.environ.get("DBUS_SESSION_BUS_ADDRESS"))
    parser.add_argument("--capabilities", help="comma-separated (default: actions,body)")
    args = parser.parse_args()
    if not args.address:
        sys.exit("no bus: set DBUS_SESSION_BUS_ADDRESS or pass --address")
    asyncio.run(_main(args.log, args.address, args.capabilities.split(",") if args.capabilities else None))
