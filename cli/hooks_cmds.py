"""`sessiond hooks install|uninstall|status [--agent NAME]` and `sessiond hook AGENT [PAYLOAD]`.

Thin click wrappers: the file editing is `sessiond.hooks.install`, the forwarding
`sessiond.hooks.forward`; `register(group)` adds them to the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import click
from sessiond.cli.settings import last_hook_failure, load_config
from sessiond.config import default_state_dir
from sessiond.hooks import forward as hook_forward
from sessiond.hooks import install as hook_install
from sessiond.hooks.install import (
    HOOK_AGENTS,
    Change,
    FileStatus,
    HookAgent,
    HookInstallError,
    Setup,
)
from sessiond.protocol import duration_text, parse_ts
from sessiond.sources.plugin import parse_version
from sessiond.statedir import ensure_state_dir, load_token, read_runtime_quietly, read_token, rotate_token

_AGENT = click.option(
    "--agent", type=click.Choice(HOOK_AGENTS), help="Only this agent (default: every one found here)."
)


def register(group: click.Group) -> None:
    group.add_command(hooks)
    group.add_command(hook)
    group.add_command(token)


@click.command()
@click.option("--rotate", is_flag=True, help="Make a new token; updates the installed hooks.")
def token(rotate: bool) -> None:
    """Print the daemon's token (for scripts), or replace it with --rotate.

    Rotating logs every open panel out (run `sessiond open` again) and rewrites the
    hooks that carry the token (Claude Code's), so they keep working.
    """
    config = load_config()
    ensure_state_dir(config.state_dir)
    if not rotate:
        click.echo(load_token(config.token_file))
        return
    installed = [a for a in HOOK_AGENTS
                 if any(st.installed for st in hook_install.status(a, _setup(a, create_token=False)))]
    rotate_token(config.token_file)
    failed = False
    for agent in installed:
        try:
            hook_install.install(agent, _setup(agent, create_token=False))
        except HookInstallError as exc:
            click.echo(f"{agent}: {exc}", err=True)
            failed = True
    updated = f"; hooks updated for {', '.join(installed)}" if installed else ""
    click.echo(f"Token rotated: open panels must log in again with `sessiond open`{updated}.")
    sys.exit(1 if failed else 0)


@click.group()
def hooks() -> None:
    """The agents' hooks: exact, instant status from Claude Code, Codex, Gemini CLI and OpenCode."""


@hooks.command()
@_AGENT
def install(agent: HookAgent | None) -> None:
    """Add sessiond's hooks to the agents' own settings (keeping everything else)."""
    _apply(agent, hook_install.install, done="installed in", unchanged="already installed in",
           create_token=True)


@hooks.command()
@_AGENT
def uninstall(agent: HookAgent | None) -> None:
    """Remove exactly the hooks `sessiond hooks install` added."""
    _apply(agent, hook_install.uninstall, done="removed from", unchanged="nothing to remove in",
           create_token=False)


def _apply(
    agent: HookAgent | None,
    change_settings: Callable[[HookAgent, Setup], list[Change]],
    *,
    done: str,
    unchanged: str,
    create_token: bool,
) -> None:
    """Install or uninstall for each chosen agent, one line per settings file touched."""
    setup = _setup(agent, create_token=create_token)
    failed = False
    for name in _agents(agent):
        absent = None if agent is not None or not create_token else _absent(name, setup)
        if absent is not None:
            click.echo(f"{name}: skipped ({absent}; `--agent {name}` installs anyway)")
            continue
        try:
            changes = change_settings(name, setup)
        except HookInstallError as exc:
            click.echo(f"{name}: {exc}", err=True)
            failed = True
            continue
        for change in changes:
            if change.changed:
                kept = f" (backup: {change.backup})" if change.backup else ""
                click.echo(f"{name}: {done} {change.path}{kept}")
            else:
                click.echo(f"{name}: {unchanged} {change.path}")
            for note in change.notes:
                click.echo(f"  note: {note}")
    sys.exit(1 if failed else 0)


@hooks.command()
@_AGENT
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(agent: HookAgent | None, as_json: bool) -> None:
    """What is installed for each agent, and whether the daemon has heard from it."""
    setup = _setup(agent, create_token=False)
    heard, running = _heard()
    report = {name: hook_install.status(name, setup) for name in _agents(agent)}
    failure = last_hook_failure(load_config().state_dir)
    if as_json:
        agents = {
            name: {"files": [_file_json(f) for f in files], "last_heard": heard.get(name)}
            for name, files in report.items()
        }
        click.echo(json.dumps({"daemon_running": running, "agents": agents, "last_failure": failure},
                              indent=2))
        return
    now = datetime.now(UTC)
    for name, files in report.items():
        click.echo(f"{name}:")
        for f in files:
            click.echo(f"  {_describe(f)}")
            for warning in f.warnings:
                click.echo(f"    warning: {warning}")
            for note in f.notes:
                click.echo(f"    {note}")
        last = parse_ts(heard.get(name))
        if not running:
            click.echo("  daemon: not running, so nothing heard")
        elif last is None:
            click.echo("  daemon: has not heard from its hooks since it started")
        else:
            click.echo(f"  daemon: last heard from its hooks {duration_text(now - last, hours=True)} ago")
    if failure is not None:
        click.echo(f"Last hook that did not get through: {failure}")


def _file_json(f: FileStatus) -> dict[str, object]:
    return {"path": str(f.path), "exists": f.exists, "installed": f.installed, "expected": f.expected,
            "stale": f.stale, "problem": f.problem, "warnings": f.warnings, "notes": f.notes}  # fmt: skip


def _absent(agent: HookAgent, setup: Setup) -> str | None:
    """Why this agent looks absent (no folder of its own, no command on PATH), or None.

    `hooks install` without --agent leaves such agents alone: it never creates ~/.codex or
    ~/.gemini for someone who uses neither."""
    folder = hook_install.hook_file(agent, setup).parent
    if folder.is_dir() or shutil.which(agent, path=setup.env.get("PATH", os.defpath)):
        return None
    return f"no {folder} and no `{agent}` on PATH"


def _describe(f: FileStatus) -> str:
    if f.problem:
        return f.problem
    if not f.installed:
        return f"not installed ({f.path})"
    n, of = len(f.installed), len(f.expected)
    what = f"installed ({n} of {of} events)" if of > 1 else "installed"
    if f.stale:
        what += ", out of date: run `sessiond hooks install` again"
    return f"{what} in {f.path}"



@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook(args: tuple[str, ...]) -> None:
    """Forward one hook payload to the daemon: AGENT [PAYLOAD], else stdin (used by the hooks)."""
    hook_forward.main(list(args))
    sys.exit(0)


# -- helpers ------------------------------------------------------------------------------------


def _agents(agent: HookAgent | None) -> tuple[HookAgent, ...]:
    return (agent,) if agent else HOOK_AGENTS




def _setup(agent: HookAgent | None, *, create_token: bool) -> Setup:
    config = load_config()
    env = config.env
    port = config.port
    running = read_runtime_quietly(config.runtime_file)
    if running is not None:
        port = running.port  # else not running: the port it will listen on
    if create_token:
        ensure_state_dir(config.state_dir)
        token = load_token(config.token_file)
    else:
        token = read_token(config.token_file) or ""
    custom = config.state_dir != default_state_dir({})
    return Setup(
        env=env,
        home=config.home,
        port=port,
        token=token,
        forwarder=hook_install.forwarder_argv(config.state_dir if custom else None),
        claude_version=_claude_version(env) if agent in (None, "claude") else None,
        state_dir=config.state_dir,
    )


def _claude_version(env: Mapping[str, str]) -> tuple[int, ...] | None:
    exe = shutil.which("claude", path=env.get("PATH", os.defpath))
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None  # it failed: the install says it could not run `claude --version`
    return parse_version(done.stdout)


def _heard() -> tuple[dict[str, str | None], bool]:
    from sessiond.client import DaemonUnavailable, find_daemon, request

    config = load_config()
    try:
        endpoint = find_daemon(config.state_dir)
        code, body = request(endpoint, "GET", "/api/hooks", timeout=2.0)
    except DaemonUnavailable:
        return {}, False
    if code != 200 or not isinstance(body, dict):
        return {}, True
    agents = body.get("agents")
    if not isinstance(agents, dict):
        return {}, True
    return {k: v.get("last_heard") for k, v in agents.items() if isinstance(v, dict)}, True
