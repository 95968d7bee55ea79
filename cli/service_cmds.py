"""`sessiond install|uninstall|start|stop|restart|logs|open`: start-at-login and its controls.

Thin click wrappers around `sessiond.service.install`; `register(group)` adds them to the CLI.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sessiond.service import install as service
from sessiond.service import logs as service_logs


def _echo(line: str) -> None:
    click.echo(line)


def _write(text: str) -> None:
    click.echo(text, nl=False)


def _guard(action: Callable[[], object]) -> None:
    """Run `action`; a ServiceError becomes its one sentence on stderr and exit code 1."""
    try:
        action()
    except service.ServiceError as exc:
        click.echo(str(exc), err=True)
        raise click.exceptions.Exit(1) from None


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the file and the commands; change nothing.")
def install(dry_run: bool) -> None:
    """Start sessiond at login (systemd user unit or launchd agent) and start it now."""
    _guard(lambda: service.install(dry_run, echo=_echo))


@click.command()
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
def uninstall(dry_run: bool) -> None:
    """Stop sessiond and no longer start it at login."""
    _guard(lambda: service.uninstall(dry_run, echo=_echo))


@click.command()
def start() -> None:
    """Start the installed service."""
    _guard(lambda: service.start(echo=_echo))


@click.command()
def stop() -> None:
    """Stop the installed service (until the next login)."""
    _guard(lambda: service.stop(echo=_echo))


@click.command()
def restart() -> None:
    """Restart the installed service."""
    _guard(lambda: service.restart(echo=_echo))


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines as they come.")
@click.option("-n", "--lines", default=200, show_default=True, help="How many lines to show.")
def logs(follow: bool, lines: int) -> None:
    """Show the daemon's log (the user journal, or the log file in the state dir)."""
    code = 0

    def show() -> None:
        nonlocal code
        code = service_logs.logs(follow, lines=lines, write=_write)

    _guard(show)
    if code:
        raise click.exceptions.Exit(code)


@click.command("open")
def open_panel() -> None:
    """Open the web panel in the browser."""
    _guard(lambda: service_logs.open_panel(echo=_echo))


COMMANDS = (install, uninstall, start, stop, restart, logs, open_panel)


def register(group: click.Group) -> None:
    """Add the service commands to `group` (the `sessiond` CLI)."""
    for command in COMMANDS:
        group.add_command(command)
