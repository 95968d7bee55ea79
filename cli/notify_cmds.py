"""`sessiond mute | unmute | quiet | notify-test | doctor`: the toast controls from a shell.

The controls are written straight into the store in the state dir. The daemon reads them
each time it decides on a toast, so a change applies to the next toast without talking
to the daemon (which may not even be running).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from sessiond.cli.format import terminal_text
from sessiond.cli.settings import fail, last_hook_failure, load_config
from sessiond.client import DaemonUnavailable, find_daemon, get_sessions
from sessiond.config import Config
from sessiond.notify.backend import (
    Probe,
    change_controls,
    dispose,
    load_controls,
    make_desktop_notifier,
    platform_name,
    probe,
)
from sessiond.notify.policy import (
    Controls,
    ControlsError,
    QuietHours,
    mute_limit_problem,
    parse_duration,
    project_name_problem,
)
from sessiond.protocol import Health, utcnow
from sessiond.statedir import RuntimeUnreadable, read_runtime
from sessiond.store.db import Store, StoreError

DELIVERY_TIMEOUT_S = 5.0


def register(group: click.Group) -> None:
    """Add the notification commands to the `sessiond` group."""
    for command in (mute, unmute, quiet, notify_test, doctor):
        group.add_command(command)




@contextmanager
def _store(config: Config) -> Iterator[Store]:
    try:
        store = Store.in_state_dir(config.state_dir)
    except (StoreError, OSError) as exc:
        raise click.ClickException(
            f"Cannot open the database in {config.state_dir}: {exc}."
        ) from exc
    try:
        yield store
    finally:
        store.close()


def _local(when: datetime) -> str:
    local = when.astimezone()
    fmt = "%H:%M" if local.date() == datetime.now().astimezone().date() else "%a %d %b %H:%M"
    return local.strftime(fmt)


# -- controls -------------------------------------------------------------------------


@click.command()
@click.argument("project")
@click.option("--for", "duration", metavar="DURATION",
              help="How long: 30m, 1h, 2d... (default: until `sessiond unmute`).")
def mute(project: str, duration: str | None) -> None:
    """No toasts for PROJECT (the name `sessiond status` shows)."""
    problem = project_name_problem(project)
    if problem is not None:
        fail(problem)
    until: datetime | None = None
    if duration is not None:
        try:
            until = utcnow() + parse_duration(duration)
        except ControlsError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from exc
    config = load_config()
    with _store(config) as store:
        current, _ = load_controls(config, store)
        problem = mute_limit_problem(current, project, utcnow())
        if problem is not None:
            fail(problem)
        change_controls(config, store, lambda c: c.with_mute(project, until, utcnow()))
    if until is None:
        click.echo(f"Muted {project} until you run `sessiond unmute {project}`.")
    else:
        click.echo(f"Muted {project} until {_local(until)}.")


@click.command()
@click.argument("project")
def unmute(project: str) -> None:
    """Toasts for PROJECT again."""
    config = load_config()
    with _store(config) as store:
        before, _ = load_controls(config, store)
        change_controls(config, store, lambda c: c.without_mute(project).pruned(utcnow()))
    if before.muted_until(project, utcnow())[0]:
        click.echo(f"Unmuted {terminal_text(project)}.")
    else:
        click.echo(f"{terminal_text(project)} was not muted.")


@click.command()
@click.argument("span", required=False, metavar="HH:MM-HH:MM|off")
def quiet(span: str | None) -> None:
    """No toasts between two local times each day (e.g. 22:00-08:00), or `off`."""
    config = load_config()
    with _store(config) as store:
        if span is None:
            current, _ = load_controls(config, store)
            hours = current.quiet_hours
            click.echo(f"Quiet hours: {hours} (local time)." if hours else "Quiet hours: off.")
            return
        if span.strip().lower() == "off":
            change_controls(config, store, _with_quiet(None))
            click.echo("Quiet hours off.")
            return
        try:
            hours = QuietHours.parse(span)
        except ControlsError as exc:
            raise click.BadParameter(str(exc), param_hint="HH:MM-HH:MM") from exc
        change_controls(config, store, _with_quiet(hours))
    click.echo(f"Quiet hours: {hours} (local time); no toasts then.")


def _with_quiet(hours: QuietHours | None) -> Callable[[Controls], Controls]:
    def change(controls: Controls) -> Controls:
        return Controls.from_json({"quiet_hours": str(hours) if hours else None}, controls)[0]

    return change


# -- notify-test ----------------------------------------------------------------------


@click.command("notify-test")
def notify_test() -> None:
    """Send one toast and say whether the system accepted it."""
    reason = asyncio.run(_send_test())
    if reason is None:
        click.echo("Delivered.")
        return
    click.echo(f"Not delivered: {reason}; `sessiond doctor` explains the fix.", err=True)
    raise SystemExit(1)


async def _send_test() -> str | None:
    dn = make_desktop_notifier()
    try:
        found = await probe(dn)
        if found.reason is not None:
            return found.reason
        delivered = asyncio.Event()
        try:
            async with asyncio.timeout(DELIVERY_TIMEOUT_S):
                await dn.send(
                    "sessiond — test toast",
                    "This is how sessiond tells you an agent needs you.",
                    on_dispatched=delivered.set,
                )
                await delivered.wait()
        except TimeoutError:
            return f"the notification server did not take the toast within {DELIVERY_TIMEOUT_S:g} s"
        return None
    finally:
        dispose(dn)


# -- doctor ---------------------------------------------------------------------------


@click.command()
def doctor() -> None:
    """Explain whether toasts can work here, and how to fix it if not."""
    config = load_config()
    healthy = True
    where = platform_name()
    found = asyncio.run(_probe_once())
    click.echo(f"Platform: {where}")
    if found.reason is None:
        server = f" ({found.server})" if found.server else ""
        click.echo(f"Desktop notifications: ok{server}.")
    else:
        healthy = False
        click.echo(f"Desktop notifications: unavailable: {found.reason}.")
        click.echo(f"  Fix: {fix_for(where, found.reason)}")
    healthy &= _check_state(config)
    _check_daemon(config)
    _check_terminals(config)
    failure = last_hook_failure(config.state_dir)
    if failure is not None:
        click.echo(f"Hooks: the last one did not get through: {failure}")
    click.echo("Answering permission requests outside the terminal: "
               + ("on (the panel, toasts, `sessiond approve`)." if config.decisions
                  else "off ([actions] decisions = false)."))
    raise SystemExit(0 if healthy else 1)


async def _probe_once() -> Probe:
    dn = make_desktop_notifier()
    try:
        return await probe(dn)
    finally:
        dispose(dn)


def fix_for(where: str, reason: str) -> str:
    """What to do about an unavailable backend on this platform."""
    panel = "The web panel (`sessiond open`) shows browser notifications instead."
    if where == "WSL":
        return (
            "WSL has no desktop notifications over D-Bus. Use the web panel in a Windows "
            "browser (`sessiond open`), which can show browser notifications, or bridge to "
            "Windows toasts with wsl-notify-send."
        )
    if where == "macOS":
        return (
            "macOS only gives notifications to a Python inside an app bundle; Homebrew, "
            "pyenv, conda and venvs made from them are not. Install sessiond with the "
            "python.org framework build of Python (signed, an app bundle). " + panel
        )
    if where == "Linux":
        if "notification daemon" in reason:
            return (
                "Start a notification daemon: GNOME, KDE and Xfce ship one; on a bare "
                "window manager install dunst or mako (Wayland). " + panel
            )
        if "D-Bus" in reason:
            return (
                "Toasts need the D-Bus session bus of your desktop session "
                "(DBUS_SESSION_BUS_ADDRESS). Run sessiond inside that session, or as a "
                "systemd user service (`sessiond install`), which gets the variable from "
                "the user manager; a shell over SSH or a TTY has no desktop to show "
                "toasts on. " + panel
            )
    if where == "Windows":
        return (
            "Windows toasts need Windows 10 or later, and notifications turned on for "
            "sessiond under Settings > System > Notifications. " + panel
        )
    return panel


def _check_state(config: Config) -> bool:
    state = config.state_dir
    if state.exists() and not os.access(state, os.W_OK):
        click.echo(f"State dir: {state} is not writable.")
        click.echo("  Fix: make it yours (chown) or point SESSIOND_STATE_DIR elsewhere.")
        return False
    try:
        store = Store.in_state_dir(state)
    except (StoreError, OSError) as exc:
        click.echo(f"State dir: {state}: the database cannot be opened ({exc}).")
        click.echo("  Fix: move sessiond.db aside; sessiond creates a fresh one.")
        return False
    try:
        controls, problems = load_controls(config, store)
        click.echo(f"State dir: {state} (database schema {store.schema_version}).")
    finally:
        store.close()
    click.echo(f"Toast controls: {describe(controls)}")
    for problem in problems:
        click.echo(f"  Ignored: {problem}")
    return True


def describe(controls: Controls) -> str:
    now = utcnow()
    muted = [
        f"{terminal_text(p)} (until {_local(u)})" if u else terminal_text(p)
        for p, u in sorted(controls.mutes.items())
        if u is None or u > now
    ]
    reminder = (f"after {controls.reminder_after_min:g} min"
                if controls.reminder_after_min > 0 else "off")
    return (
        f"kinds {controls.kinds}; quiet hours {controls.quiet_hours or 'off'}; "
        f"muted {', '.join(muted) or 'none'}; reminder {reminder}; "
        f"sound {'on' if controls.sound else 'off'}."
    )


def _check_daemon(config: Config) -> None:
    try:
        runtime = read_runtime(config.runtime_file)
    except RuntimeUnreadable:
        click.echo(f"Daemon: {config.runtime_file} is unreadable.")
        return
    if runtime is None:
        click.echo("Daemon: not running (no runtime.json); `sessiond start` starts it.")
        return
    try:
        with urllib.request.urlopen(f"{runtime.url}/health", timeout=2) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()  # 503 carries the same JSON
    except (urllib.error.URLError, OSError):
        click.echo(f"Daemon: runtime.json names pid {runtime.pid} at {runtime.url}, "
                   "but nothing answers there.")
        return
    try:
        health = Health.from_json(json.loads(body))
    except (ValueError, TypeError):
        click.echo(f"Daemon: {runtime.url}/health did not answer with sessiond's JSON.")
        return
    click.echo(f"Daemon: {health.status} at {runtime.url} (pid {health.pid}).")
    component = health.components.get("notifier")
    if component is not None:
        detail = f": {component.detail}" if component.detail else ""
        click.echo(f"  Daemon's notifier: {component.status}{detail}")



def _check_terminals(config: Config) -> None:
    """Each live session's terminal, or why none was found (focus and typing need one)."""
    try:
        sessions = get_sessions(find_daemon(config.state_dir, config.port))
    except DaemonUnavailable:
        return  # `_check_daemon` has said why
    live = [s for s in sessions if s.status != "ended" and s.parent_id is None]
    if not live:
        click.echo("Terminals: no live session.")
        return
    click.echo("Terminals (where `sessiond focus` and `sessiond send` reach each live session):")
    for session in live:
        name = terminal_text(session.project or session.title)[:24] or "-"
        if session.terminal is not None:
            typing = "can type" if session.terminal.can_send else "focus only"
            found = f"{session.terminal.kind} {terminal_text(session.terminal.target)} ({typing})"
        else:
            found = f"none: {terminal_text(session.terminal_note) or 'not looked for yet'}"
        click.echo(f"  {session.id[:12]:<12}  {name:<24}  {found}")
