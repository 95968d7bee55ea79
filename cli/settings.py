"""The CLI's one way to resolve its settings: a bad setting is one sentence and exit 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from sessiond.config import Config, ConfigError


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"sessiond: {message}", err=True)
    sys.exit(code)


def load_config(**overrides: Any) -> Config:
    try:
        return Config.from_env(None, **overrides)
    except ConfigError as exc:
        fail(str(exc))


def last_hook_failure(state_dir: Path) -> str | None:
    """The hook forwarder's last failure, as one line for `hooks status` and `doctor`
    (None when the last hook got through)."""
    from sessiond.cli.format import terminal_text
    from sessiond.hooks.forward import FAILURE_NAME

    try:
        record = json.loads((state_dir / FAILURE_NAME).read_text("utf-8"))
        at, agent, reason, count = record["at"], record["agent"], record["reason"], int(record["count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    times = f" ({count} in a row)" if count > 1 else ""
    return terminal_text(f"{at}, {agent or 'a'} hook: {reason}{times}")
