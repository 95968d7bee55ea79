"""Resolved settings: keyword arguments, then environment, then the config file, then defaults.

`Config.from_env()` is what `sessiond run` uses; tests build a `Config` directly with
temporary directories and short timings. Nothing else in the daemon reads os.environ
for settings, so what a daemon does is visible in its one `Config`.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import platformdirs
from sessiond.notify.policy import Controls, file_controls
from sessiond.sources.base import Thresholds

DEFAULT_PORT = 7330
DEFAULT_HOST = "127.0.0.1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class ConfigError(Exception):
    """A setting is invalid; the message is one sentence for the user."""


def default_state_dir(env: Mapping[str, str]) -> Path:
    if env.get("SESSIOND_STATE_DIR"):
        return Path(env["SESSIOND_STATE_DIR"]).expanduser()
    return Path(platformdirs.user_state_dir("sessiond", appauthor=False))


def default_config_file(env: Mapping[str, str]) -> Path:
    if env.get("SESSIOND_CONFIG"):
        return Path(env["SESSIOND_CONFIG"]).expanduser()
    return Path(platformdirs.user_config_dir("sessiond", appauthor=False)) / "config.toml"


def default_port(env: Mapping[str, str]) -> int:
    raw = env.get("SESSIOND_PORT", "")
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError as exc:
        raise ConfigError(f"SESSIOND_PORT must be a port number, not {raw!r}.") from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"SESSIOND_PORT must be between 0 and 65535, not {port}.")
    return port


@dataclass(slots=True)
class Config:
    state_dir: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    allow_remote: bool = False
    notify: bool = True
    # This machine's name on the board (`--name`, SESSIOND_NAME, `[bus] name`; the host
    # name by default): every local session carries it as `host`.
    name: str = field(default_factory=lambda: default_name({}))
    # The bus joining several machines (`--bus`, SESSIOND_BUS, `[bus] url`): a redis:// or
    # rediss:// URL, or None (this machine alone).
    bus_url: str | None = None
    # False (`--no-watch`): no local agents, a board of the bus alone (team mode).
    watch: bool = True
    # `[bus] snapshot_every_s`: how often this machine's whole state is put on the bus (a
    # daemon whose position was trimmed away rebuilds from it).
    bus_snapshot_s: float = 300.0
    # Where the agents keep their files (the same variables the agents use).
    env: Mapping[str, str] = field(default_factory=dict)
    home: Path = field(default_factory=Path.home)
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Events kept in memory for `Last-Event-ID` resume.
    event_buffer: int = 10_000
    # Frames queued for one SSE client before it is dropped as too slow.
    client_queue: int = 2_000
    max_sse_clients: int = 256
    # Of those, the last ones are kept for the panel (clients with its login cookie), so a
    # script holding streams cannot lock the owner's browser out.
    panel_sse_slots: int = 16
    # What all SSE clients together may hold in memory (queued frames and socket buffers);
    # beyond it the clients holding most are cut first (they reconnect and resume).
    sse_budget_bytes: int = 64 * 1024 * 1024
    # A connection must send a complete request head within this time.
    head_timeout_s: float = 10.0
    # Open connections at most; beyond it, the oldest that never sent a request is closed.
    max_connections: int = 4096
    # `[actions] decisions`: may permission requests be answered outside the terminal?
    decisions: bool = True
    # `[actions] input`: may the panel, a toast's reply and `sessiond send` type into an
    # agent's terminal (only ever while it waits)?
    send_input: bool = True
    # `[actions] toast_click`: a toast's click brings the agent's terminal to the front
    # ("terminal", when one is known; else the panel opens) or always opens the panel.
    toast_click: str = "terminal"
    # Files not written for this long start as idle without being read.
    cold_after: timedelta = timedelta(days=1)
    # Stat every known file this often, in case the watcher missed an event. None: 20 s
    # under watchfiles, 120 s under inotify (which reports its own losses: overflows).
    sweep_every: float | None = None
    # "auto" (inotify on Linux, watchfiles elsewhere), "inotify" or "watchfiles".
    watch_backend: str = "auto"
    # watchfiles tuning (see docs/python-stack.md): its latency costs idle CPU.
    watch_step_ms: int = 5
    watch_debounce_ms: int = 50
    sse_ping_s: float = 15.0
    sse_retry_ms: int = 2000
    shutdown_timeout: float = 0.5
    config_file: Path | None = None
    file_settings: dict[str, Any] = field(default_factory=dict)
    # The config file's `[notify]` table over the defaults, resolved once here; the
    # notifier adds only the overrides stored by `sessiond mute`/the panel per decision.
    notify_base: Controls = field(init=False)
    notify_problems: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.notify_base, self.notify_problems = file_controls(self.file_settings.get("notify"))
        problem = name_problem(self.name)
        if problem is not None:
            raise ConfigError(problem)
        if self.bus_url is not None and not self.bus_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("The bus URL must start with redis:// or rediss:// (TLS).")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> Config:
        env = dict(os.environ if env is None else env)
        config_file = default_config_file(env)
        settings = load_config_file(config_file)
        daemon_settings = settings.get("daemon", {})
        values: dict[str, Any] = {
            "state_dir": default_state_dir(env),
            "port": default_port(env),
            "env": env,
            "config_file": config_file,
            "file_settings": settings,
        }
        thresholds = _thresholds(daemon_settings)
        if thresholds is not None:
            values["thresholds"] = thresholds
        values.update(_daemon_settings(daemon_settings))
        values.update(_actions(settings.get("actions", {})))
        values.update(_bus(settings.get("bus", {}), env))
        backend = _watch_backend(daemon_settings)
        if backend is not None:
            values["watch_backend"] = backend
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def runtime_file(self) -> Path:
        return self.state_dir / "runtime.json"  # statedir.RUNTIME_NAME

    @property
    def token_file(self) -> Path:
        return self.state_dir / "token"  # statedir.TOKEN_NAME

    @property
    def log_file(self) -> Path:
        return self.state_dir / "sessiond.log"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def load_config_file(path: Path) -> dict[str, Any]:
    """The TOML config file as a dict; a missing file is an empty config."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    try:
        return tomllib.loads(raw.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from exc


def _thresholds(daemon: Any) -> Thresholds | None:
    if not isinstance(daemon, dict):
        return None
    names = {"approval_after": "approval_after_s", "idle_after": "idle_after_s"}
    names |= {"stale_after": "stale_after_s", "settle_after": "settle_after_s"}
    changes: dict[str, Any] = {}
    for attr, key in names.items():
        if key in daemon:
            value = daemon[key]
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{key} in the config file must be a number of seconds.")
            changes[attr] = timedelta(seconds=value)
    return Thresholds(**changes) if changes else None


# Plain settings of the `[daemon]` table: name in the file -> (field, type, converter).
_DAEMON_KEYS: dict[str, tuple[str, Any]] = {
    "event_buffer": ("event_buffer", int),
    "client_queue": ("client_queue", int),
    "max_sse_clients": ("max_sse_clients", int),
    "panel_sse_slots": ("panel_sse_slots", int),
    "sse_budget_mb": ("sse_budget_bytes", lambda v: int(v * 1024 * 1024)),
    "head_timeout_s": ("head_timeout_s", float),
    "max_connections": ("max_connections", int),
    "sweep_every_s": ("sweep_every", float),
    "cold_after_s": ("cold_after", lambda v: timedelta(seconds=v)),
    "watch_step_ms": ("watch_step_ms", int),
    "watch_debounce_ms": ("watch_debounce_ms", int),
    "sse_ping_s": ("sse_ping_s", float),
}


WATCH_BACKENDS = ("auto", "inotify", "watchfiles")


def _watch_backend(daemon: Any) -> str | None:
    if not isinstance(daemon, dict) or "watch_backend" not in daemon:
        return None
    value = daemon["watch_backend"]
    if value not in WATCH_BACKENDS:
        raise ConfigError(
            f"watch_backend in the config file must be one of {', '.join(WATCH_BACKENDS)}."
        )
    return str(value)


def _daemon_settings(daemon: Any) -> dict[str, Any]:
    if not isinstance(daemon, dict):
        return {}
    values: dict[str, Any] = {}
    for key, (attr, convert) in _DAEMON_KEYS.items():
        if key not in daemon:
            continue
        value = daemon[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{key} in the config file must be a positive number.")
        values[attr] = convert(value)
    return values


def _actions(actions: object) -> dict[str, Any]:
    """`[actions]`: decisions and input (true/false), toast_click ("terminal"/"panel")."""
    if not isinstance(actions, dict):
        return {}
    values: dict[str, Any] = {}
    for key, name in (("decisions", "decisions"), ("input", "send_input")):
        if key in actions:
            if not isinstance(actions[key], bool):
                raise ConfigError(f"{key} in the config file's [actions] must be true or false.")
            values[name] = actions[key]
    if "toast_click" in actions:
        if actions["toast_click"] not in ("terminal", "panel"):
            raise ConfigError('toast_click in the config file\'s [actions] must be "terminal" or "panel".')
        values["toast_click"] = actions["toast_click"]
    return values


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def default_name(env: Mapping[str, str]) -> str:
    """This machine's name on the board: SESSIOND_NAME, else the host name (short), made a
    valid name (a host name with other characters must not keep the daemon from starting)."""
    if env.get("SESSIOND_NAME"):
        return env["SESSIOND_NAME"]
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname().split(".")[0]).strip("-._")
    return host[:100] or "localhost"


def _bus(table: object, env: Mapping[str, str]) -> dict[str, Any]:
    """`[bus] url, name` under SESSIOND_BUS and SESSIOND_NAME (the CLI's options win)."""
    table = table if isinstance(table, dict) else {}
    values: dict[str, Any] = {}
    url = env.get("SESSIOND_BUS") or table.get("url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("The bus URL must start with redis:// or rediss:// (TLS).")
        values["bus_url"] = url
    name = env.get("SESSIOND_NAME") or table.get("name")
    if name is not None:
        values["name"] = name
    every = table.get("snapshot_every_s")
    if every is not None:
        if isinstance(every, bool) or not isinstance(every, int | float) or not 1 <= every <= 86400:
            raise ConfigError("snapshot_every_s in the config file's [bus] must be 1 to 86400 seconds.")
        values["bus_snapshot_s"] = float(every)
    return values


def name_problem(name: object) -> str | None:
    """Why this machine name cannot be used (None: it can)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return ("The machine name must be 1-100 letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit.")
    return None
