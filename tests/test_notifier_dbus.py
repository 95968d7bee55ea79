"""Toasts over real D-Bus: the Notifier against a notification server of our own.

The module always starts a private `dbus-daemon` (tests/fake_notifications.py), even
when DBUS_SESSION_BUS_ADDRESS is set: the tests must never pop toasts on a developer's
desktop nor compete with its notification daemon for org.freedesktop.Notifications.
Each test points DBUS_SESSION_BUS_ADDRESS at that bus (or at nothing, for the no-bus
cases). macOS and Windows backends cannot run here; test_notify_policy.py covers the
policy they share with this one.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import sessiond.notify.desktop as notifier_mod
from click.testing import CliRunner
from sessiond.cli.notify_cmds import register
from sessiond.config import Config
from sessiond.notify.backend import app_icon, load_controls
from sessiond.notify.desktop import Notifier
from sessiond.protocol import PendingTool, Session, Status, Transition
from sessiond.store.db import Store

from tests.fake_notifications import FakeNotifications, NotifyCall, serve, start_private_bus

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HERE = Path(__file__).resolve().parent
ICON = app_icon()
ICON_URI = ICON.as_uri() if ICON else ""
ACTIONS = ["default", "", "mute", "Mute project"]
HINTS = {"urgency": 1, "sound-name": "default"}
BASH = PendingTool("Bash", "git push origin main")


def notify(summary: str, body: str, nid: int = 1, hints: dict[str, Any] = HINTS) -> NotifyCall:
    """The exact Notify call a sessiond toast makes."""
    return NotifyCall(nid, "sessiond", 0, ICON_URI, summary, body, ACTIONS, hints, -1)


def transition(
    frm: Status | None, to: Status, *, sid: str = "s1", project: str = "myapp",
    tool: PendingTool | None = None, title: str = "", at: datetime = NOW,
    parent_id: str | None = None,
) -> Transition:
    session = Session(
        id=sid, agent="claude", status=to, status_since=at, last_activity=at,
        project=project, cwd=f"/home/u/{project}", branch="main", title=title,
        pending_tool=tool, parent_id=parent_id,
    )
    return Transition(sid, frm, to, at, "test", "transcript", session)


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not check():
            await asyncio.sleep(0.01)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bus_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, address = start_private_bus(tmp_path_factory.mktemp("bus"))
    yield address
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def on_bus(bus_address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus_address)
    return bus_address


@pytest.fixture
async def server(on_bus: str) -> AsyncIterator[FakeNotifications]:
    bus, fake = await serve(on_bus)
    yield fake
    bus.disconnect()


Factory = Callable[..., Awaitable[tuple[Notifier, list[str]]]]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Factory]:
    made: list[tuple[Notifier, Store]] = []

    async def factory(
        notify: dict[str, Any] | None = None, now: datetime = NOW, notify_on: bool = True
    ) -> tuple[Notifier, list[str]]:
        # A short window keeps the tests quick; the burst test sets its own.
        settings = {"notify": {"coalesce_s": 0.05, **(notify or {})}}
        config = Config(state_dir=tmp_path / "state", file_settings=settings, notify=notify_on)
        store = Store.in_state_dir(config.state_dir)
        opened: list[str] = []
        n = Notifier(config, store, open_url=opened.append, clock=lambda: now, tz=UTC)
        await n.start()
        made.append((n, store))
        return n, opened

    yield factory
    for n, store in made:
        await n.close()
        store.close()


# -- what a toast looks like ------------------------------------------------------------


async def test_approval_wait(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make()
    assert n.health().status == "ok"
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    await n.settle()
    assert server.calls == [notify("Needs approval — myapp (main)", "Bash: git push origin main")]
    assert "python" not in server.calls[0].app_icon
    assert n.stats.sent == 1 and [s.title for s in n.sent] == ["Needs approval — myapp (main)"]


async def test_input_wait(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make({"sound": False})
    n.on_transition(transition("working", "waiting_for_input", title="Fix the login bug"))
    await n.settle()
    assert server.calls == [notify("Waiting for you — myapp (main)",
                                   "Claude finished its turn on “Fix the login bug”",
                                   hints={"urgency": 1})]


async def test_body_markup_is_escaped_when_the_server_renders_it(
    on_bus: str, make: Factory
) -> None:
    bus, fake = await serve(on_bus, capabilities=["actions", "body", "body-markup"])
    try:
        n, _ = await make()
        tool = PendingTool("Bash", "echo '<b>hi</b>' && true")
        n.on_transition(transition("working", "waiting_for_approval", tool=tool))
        await n.settle()
        assert [c.body for c in fake.calls] == ["Bash: echo '&lt;b&gt;hi&lt;/b&gt;' &amp;&amp; true"]
    finally:
        bus.disconnect()


# -- no noise ---------------------------------------------------------------------------


async def test_muted_project(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make()
    notifier_mod.change_controls(
        n.config, n.store, lambda c: c.with_mute("myapp", NOW + timedelta(hours=1), NOW))
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    n.on_transition(transition("working", "waiting_for_input", sid="s2", project="other"))
    await n.settle()
    assert [c.summary for c in server.calls] == ["Waiting for you — other (main)"]
    assert n.stats.skipped["muted"] == 1
    assert 'sessiond_toasts_skipped_total{reason="muted"} 1\n' in n.stats.prometheus()
    assert "sessiond_toasts_sent_total 1\n" in n.stats.prometheus()


async def test_quiet_hours(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make({"quiet_hours": "22:00-08:00"}, now=NOW.replace(hour=23, minute=30))
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH,
                               at=NOW.replace(hour=23, minute=30)))
    await n.settle()
    assert server.calls == []
    assert n.stats.skipped["quiet_hours"] == 1


async def test_restart_does_not_repeat(server: FakeNotifications, make: Factory) -> None:
    wait = transition("working", "waiting_for_input", at=NOW - timedelta(minutes=1))
    first, _ = await make()
    first.on_transition(wait)
    await first.settle()
    await first.close()
    assert len(server.calls) == 1
    # The next daemon sees the same transition again: replayed, or recovered from the
    # transcript; the ledger in the store says it was shown.
    second, _ = await make()
    second.on_transition(wait, replayed=True)
    second.on_transition(wait, recovered=True)
    await second.settle()
    assert len(server.calls) == 1
    assert second.stats.skipped == {"replayed": 1, "already_notified": 1}
    # A wait that began while it was down, and was never shown, toasts once.
    missed = transition("working", "waiting_for_approval", sid="s2", tool=BASH,
                        at=NOW - timedelta(seconds=30))
    second.on_transition(missed, recovered=True)
    await second.settle()
    second.on_transition(missed, recovered=True)
    await second.settle()
    assert [c.summary for c in server.calls[1:]] == ["Needs approval — myapp (main)"]


async def test_burst_gives_one_toast(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make({"coalesce_s": 0.3})
    n.on_transition(transition("working", "waiting_for_input"))
    n.on_transition(transition("waiting_for_input", "working"))
    n.on_transition(transition("working", "waiting_for_input"))
    n.on_transition(transition("waiting_for_input", "working"))
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    await n.settle()
    assert server.calls == [notify("Needs approval — myapp (main)", "Bash: git push origin main")]
    assert server.closed == []


async def test_subagents_and_back_to_work_within_the_window(
    server: FakeNotifications, make: Factory
) -> None:
    n, _ = await make({"coalesce_s": 0.3})
    n.on_transition(transition("working", "waiting_for_input", sid="sub", parent_id="s1"))
    n.on_transition(transition("working", "waiting_for_input"))
    n.on_transition(transition("waiting_for_input", "working"))
    await n.settle()
    assert server.calls == []
    assert n.stats.skipped == {"subagent": 1, "superseded": 1}


async def test_back_to_working_withdraws(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make()
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    await n.settle()
    [call] = server.calls
    n.on_transition(transition("waiting_for_approval", "working"))
    await n.settle()
    assert server.closed == [call.id]
    assert n.stats.withdrawn == 1
    # A session the engine drops takes its toast along too.
    n.on_transition(transition("working", "waiting_for_input", sid="s2"))
    await n.settle()
    n.on_removed("s2")
    await n.settle()
    assert server.closed == [call.id, server.calls[-1].id]


# -- actions ----------------------------------------------------------------------------


async def test_click_opens_the_panel_on_that_session(
    server: FakeNotifications, make: Factory
) -> None:
    n, opened = await make()
    n.on_transition(transition("working", "waiting_for_input", sid="abc-123"))
    await n.settle()
    server.invoke(server.calls[0].id, "default")
    await eventually(lambda: bool(opened))
    assert opened == ["http://127.0.0.1:7330/#session=abc-123"]
    # Acted on: going back to work has nothing left to withdraw.
    n.on_transition(transition("waiting_for_input", "working", sid="abc-123"))
    await n.settle()
    assert server.closed == []


async def test_mute_button_mutes_the_project(server: FakeNotifications, make: Factory) -> None:
    n, opened = await make()
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    await n.settle()
    server.invoke(server.calls[0].id, "mute")

    def muted() -> bool:
        return load_controls(n.config, n.store)[0].muted_until("myapp", NOW)[0]

    await eventually(muted)
    assert load_controls(n.config, n.store)[0].mutes == {"myapp": NOW + timedelta(hours=1)}
    n.on_transition(transition("working", "waiting_for_input", sid="s2"))
    await n.settle()
    assert len(server.calls) == 1 and opened == []


async def test_reminder_when_still_waiting(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make({"reminder_after_min": 0.005})  # 0.3 s
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    await eventually(lambda: len(server.calls) == 2)
    await n.settle()
    first, reminder = server.calls
    assert reminder.summary.startswith("Still waiting (")
    assert reminder.body == "Bash: git push origin main"
    assert server.closed == [first.id]  # the reminder replaces the first toast


# -- degrade, never die -----------------------------------------------------------------


async def test_no_bus(make: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    address = f"unix:path={tmp_path}/no-such-bus"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    n, _ = await make()
    health = n.health()
    assert (health.status, health.detail) == (
        "unavailable", f"no D-Bus session bus at {address} (No such file or directory)")
    n.on_transition(transition("working", "waiting_for_approval", tool=BASH))
    await n.settle()
    assert n.stats.skipped["backend_unavailable"] == 1 and n.stats.sent == 0


async def test_bus_unset(make: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    n, _ = await make()
    assert n.health().detail == "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)"


async def test_a_server_that_starts_later_is_picked_up(
    on_bus: str, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier_mod, "REPROBE_EVERY_S", 0.0)
    n, _ = await make()
    assert n.health() == notifier_mod.ComponentHealth(
        "unavailable", "no notification daemon on the D-Bus session bus "
        "(nothing provides org.freedesktop.Notifications)")
    bus, fake = await serve(on_bus)
    try:
        n.on_transition(transition("working", "waiting_for_input"))
        await n.settle()
        assert len(fake.calls) == 1 and n.health().status == "ok"
    finally:
        bus.disconnect()


async def test_no_notify_flag(server: FakeNotifications, make: Factory) -> None:
    n, _ = await make(notify_on=False)
    assert n.health() == notifier_mod.ComponentHealth("ok", "toasts disabled by --no-notify")
    n.on_transition(transition("working", "waiting_for_input"))
    await n.settle()
    assert server.calls == [] and n.stats.skipped == {"disabled": 1}


# -- the CLI ----------------------------------------------------------------------------


@pytest.fixture
def cli() -> click.Group:
    @click.group()
    def group() -> None:
        pass

    register(group)
    return group


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SESSIOND_STATE_DIR": str(tmp_path / "state"),
        "SESSIOND_CONFIG": str(tmp_path / "config.toml"),
        "SESSIOND_PORT": "7331",
    }


@pytest.fixture
def server_process(bus_address: str, tmp_path: Path) -> Iterator[Path]:
    """tests/fake_notifications.py as its own process: the CLI runs its own loop."""
    log = tmp_path / "notify.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_notifications.py"), "--log", str(log),
         "--address", bus_address],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdout.close()
    yield log
    proc.terminate()
    proc.wait(5)


def test_notify_test_delivers(
    cli: click.Group, cli_env: dict[str, str], bus_address: str, server_process: Path
) -> None:
    result = CliRunner().invoke(cli, ["notify-test"],
                                env={**cli_env, "DBUS_SESSION_BUS_ADDRESS": bus_address})
    assert (result.exit_code, result.output) == (0, "Delivered.\n")
    [call] = [json.loads(line) for line in server_process.read_text().splitlines()]
    assert (call["method"], call["app_name"], call["summary"], call["app_icon"]) == (
        "Notify", "sessiond", "sessiond — test toast", ICON_URI)


def test_notify_test_without_a_bus(cli: click.Group, cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["notify-test"],
                                env={**cli_env, "DBUS_SESSION_BUS_ADDRESS": None, "DISPLAY": None})
    assert result.exit_code == 1
    assert result.output == (
        "Not delivered: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset); "
        "`sessiond doctor` explains the fix.\n")


def test_doctor_with_a_server(
    cli: click.Group, cli_env: dict[str, str], bus_address: str, server_process: Path
) -> None:
    result = CliRunner().invoke(cli, ["doctor"],
                                env={**cli_env, "DBUS_SESSION_BUS_ADDRESS": bus_address})
    assert result.exit_code == 0, result.output
    assert "Desktop notifications: ok (sessiond-tests 1.0)." in result.output
    assert "Daemon: not running" in result.output


def test_doctor_without_a_bus_explains_the_fix(
    cli: click.Group, cli_env: dict[str, str]
) -> None:
    result = CliRunner().invoke(cli, ["doctor"],
                                env={**cli_env, "DBUS_SESSION_BUS_ADDRESS": None, "DISPLAY": None})
    assert result.exit_code == 1
    assert ("Desktop notifications: unavailable: no D-Bus session bus "
            "(DBUS_SESSION_BUS_ADDRESS unset).") in result.output
    assert "systemd user service (`sessiond install`)" in result.output


def test_mute_unmute_quiet_write_the_store(
    cli: click.Group, cli_env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["mute", "myapp", "--for", "30m"], env=cli_env).exit_code == 0
    assert runner.invoke(cli, ["mute", "scratch"], env=cli_env).output == (
        "Muted scratch until you run `sessiond unmute scratch`.\n")
    assert runner.invoke(cli, ["quiet", "22:00-08:00"], env=cli_env).output == (
        "Quiet hours: 22:00-08:00 (local time); no toasts then.\n")
    store = Store.in_state_dir(tmp_path / "state")
    try:
        stored = store.get_json("controls")
        assert set(stored) == {"mutes", "quiet_hours"}  # only what the user changed
        assert set(stored["mutes"]) == {"myapp", "scratch"} and stored["mutes"]["scratch"] is None
        assert runner.invoke(cli, ["unmute", "myapp"], env=cli_env).output == "Unmuted myapp.\n"
        assert runner.invoke(cli, ["unmute", "myapp"], env=cli_env).output == (
            "myapp was not muted.\n")
        assert runner.invoke(cli, ["quiet", "off"], env=cli_env).output == "Quiet hours off.\n"
        assert store.get_json("controls") == {"mutes": {"scratch": None}, "quiet_hours": None}
    finally:
        store.close()
    bad = runner.invoke(cli, ["mute", "x", "--for", "soon"], env=cli_env)
    assert bad.exit_code == 2 and "30m, 1h or 2d" in bad.output
