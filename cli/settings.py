"""The CLI's one way to resolve its settings: a bad setting is one sentence and exit 1."""

from __future__ import annotations

import sys
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
