"""The `sessiond` command. Each command parses its options and calls a plain function."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sessiond import __version__
from sessiond.cli.format import render_status, terminal_text
from sessiond.cli.settings import fail, load_config
from sessiond.protocol import parse_ts


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sessiond")
def main() -> None:
    """sessiond: know the moment an AI coding agent needs you."""






@main.command()
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port (default 7330 or $SESSIOND_PORT).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host (token required).")
@click.option("--no-notify", is_flag=True, help="Do not show desktop notifications.")
@click.option("--supervise", is_flag=True, help="Run under a parent that restarts it.")
@click.option("--bus", "bus_url", metavar="URL",
              help="Join other machines: redis://[user:password@]host:port[/db] or rediss:// "
                   "(default $SESSIOND_BUS).")
@click.option("--name", help="This machine's name on the board (default $SESSIOND_NAME or the host name).")
@click.option("--no-watch", is_flag=True, help="No local agents: a board of the bus alone (team mode).")
def run(port: int | None, host: str, allow_remote: bool, no_notify: bool, supervise: bool,
        bus_url: str | None, name: str | None, no_watch: bool) -> None:
    """Run the daemon in the foreground."""
    from sessiond.logs import configure
    from sessiond.server import DaemonError, Server

    config = load_config(port=port, host=host, allow_remote=allow_remote, notify=not no_notify,
                         bus_url=bus_url, name=name, watch=False if no_watch else None)
    if supervise:
        from sessiond.service.supervisor import daemon_command, run_supervised
        from sessiond.service.tasks import HEARTBEAT_NAME

        options = [f"--port={config.port}", f"--host={host}"]
        options += ["--allow-remote"] * allow_remote + ["--no-notify"] * no_notify
        options += [f"--name={config.name}"] + ["--no-watch"] * no_watch
        if config.bus_url is not None:
            # Through the environment, not argv: other users can read a command line.
            os.environ["SESSIOND_BUS"] = config.bus_url
        sys.exit(run_supervised(daemon_command(*options), config.port, host=host,
                                heartbeat=config.state_dir / HEARTBEAT_NAME,
                                runtime=config.runtime_file))
    configure(config.log_file)
    try:
        code = Server(config).run()
    except DaemonError as exc:
        fail(str(exc))
    sys.exit(code)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print health and sessions as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also list sessions quiet for over a day.")
@click.option("--watch", is_flag=True, help="Keep the table up to date from the event stream (Ctrl-C stops).")
def status(as_json: bool, show_all: bool, watch: bool) -> None:
    """Daemon health and the sessions, newest first."""
    from sessiond.client import DaemonUnavailable, find_daemon, get_health, get_sessions

    config = load_config()
    try:
        endpoint = find_daemon(config.state_dir, config.port)
        health = get_health(endpoint)
        sessions = get_sessions(endpoint)
    except DaemonUnavailable as exc:
        fail(str(exc), code=3)
    if as_json:
        click.echo(json.dumps({"health": health.to_json(),
                               "sessions": [s.to_json() for s in sessions]}, indent=2))
    elif watch:
        watch_status(endpoint, health, show_all)
    else:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        click.echo(render_status(health, sessions, now=datetime.now(UTC), width=width, show_all=show_all))
    sys.exit(0 if health.status == "ok" else 1)


def watch_status(endpoint: Any, health: Any, show_all: bool) -> None:
    """Redraw the table on every event of the stream (no polling) until Ctrl-C."""
    from sessiond.client import DaemonUnavailable, follow_events
    from sessiond.protocol import Session

    board: dict[str, Session] = {}
    try:
        for kind, data in follow_events(endpoint):
            if kind == "snapshot" and isinstance(data, dict):
                board = {s["id"]: Session.from_json(s) for s in data.get("sessions", [])}
            elif kind == "session" and isinstance(data, dict):
                board[data["id"]] = Session.from_json(data)
            elif kind == "transition" and isinstance(data, dict):
                board[data["session_id"]] = Session.from_json(data["session"])
            elif kind == "removed" and isinstance(data, dict):
                board.pop(str(data.get("session_id")), None)
            else:
                continue
            table = render_status(health, list(board.values()), now=datetime.now(UTC),
                                  width=shutil.get_terminal_size().columns, show_all=show_all)
            click.echo("\x1b[H\x1b[2J" + table, nl=True)  # home, clear, draw
    except KeyboardInterrupt:
        return
    except DaemonUnavailable as exc:
        fail(str(exc), code=3)
    fail("The daemon closed the event stream (it stopped).", code=3)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--now", "now_text", metavar="ISO-8601", help="Classify as of this time.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(file: Path, now_text: str | None, as_json: bool) -> None:
    """Classify one transcript file offline, with the daemon's own rules."""
    from sessiond.inspection import InspectError, inspect_file

    now = None
    if now_text is not None:
        now = parse_ts(now_text)
        if now is None:
            fail(f"--now must be an ISO-8601 time, not {now_text!r}.", code=2)
    config = load_config()
    try:
        result = inspect_file(file, now, config.thresholds)
    except InspectError as exc:
        fail(str(exc), code=2)
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    click.echo(f"{result.agent} session {terminal_text(result.session_id)}")
    click.echo(f"  status:  {result.status}")
    click.echo(f"  reason:  {terminal_text(result.reason)}")
    if result.since:
        click.echo(f"  since:   {result.since.isoformat()}")
    if result.pending_tool:
        click.echo(f"  pending: {terminal_text(result.pending_tool.name)}: "
                   f"{terminal_text(result.pending_tool.summary)}")


def _register_commands() -> None:
    from sessiond.cli import actions, hooks_cmds, notify_cmds, service_cmds

    actions.register(main)
    hooks_cmds.register(main)
    notify_cmds.register(main)
    service_cmds.register(main)


_register_commands()
