"""Start-at-login: the systemd user unit (Linux) and the launchd agent (macOS).

Plain functions behind `sessiond install|uninstall|start|stop|restart|logs|open`. Each
takes the platform (default `sys.platform`), the environment (default `os.environ`) and
where to print, so tests exercise both platforms on one machine with temporary homes and
stand-in `systemctl`/`launchctl`/`journalctl` first on `PATH`.

Failures raise `ServiceError`, whose message is one sentence for the user; the CLI prints
it and exits 1.
"""

from __future__ import annotations

import getpass
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from sessiond.config import default_state_dir
from sessiond.statedir import write_atomic

UNIT_NAME = "sessiond.service"
LABEL = "dev.sessiond"
# Settings the service would not otherwise see (a service manager does not read the
# user's shell profile): copied into the unit or plist when set at install time.
PASSTHROUGH_ENV = (
    "SESSIOND_STATE_DIR",
    "SESSIOND_PORT",
    "SESSIOND_CONFIG",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "CURSOR_HOME",
)
NO_MANAGER_HINT = "use `sessiond run --supervise` instead (e.g. from your shell's startup file)"
COMMAND_TIMEOUT = 60.0

Echo = Callable[[str], None]
Manager = Literal["systemd", "launchd"]


class ServiceError(Exception):
    """Installing or controlling the service failed; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class Host:
    """Where and how the service lives on this machine."""

    platform: str
    env: Mapping[str, str]
    python: str
    uid: int

    @classmethod
    def detect(
        cls,
        platform: str | None = None,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
    ) -> Host:
        python = python if python is not None else sys.executable
        if not python:
            raise ServiceError("Cannot tell which Python interpreter runs sessiond.")
        return cls(
            platform=sys.platform if platform is None else platform,
            env=os.environ if env is None else env,
            # Absolute but not resolved: a venv's python is a symlink that must stay one.
            python=os.path.abspath(python),
            uid=os.getuid() if hasattr(os, "getuid") else 0,
        )

    @property
    def manager(self) -> Manager:
        if self.platform.startswith("linux"):
            return "systemd"
        if self.platform == "darwin":
            return "launchd"
        raise ServiceError(
            f"sessiond install supports Linux (systemd) and macOS (launchd), "
            f"not {self.platform}; {NO_MANAGER_HINT}."
        )

    @property
    def tool(self) -> str:
        return "systemctl" if self.manager == "systemd" else "launchctl"

    @property
    def home(self) -> Path:
        home = self.env.get("HOME")
        return Path(home) if home else Path.home()

    @property
    def service_file(self) -> Path:
        if self.manager == "systemd":
            config = self.env.get("XDG_CONFIG_HOME", "")
            # Per the XDG spec a relative XDG_CONFIG_HOME is ignored.
            base = Path(config) if os.path.isabs(config) else self.home / ".config"
            return base / "systemd" / "user" / UNIT_NAME
        return self.home / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    @property
    def state_dir(self) -> Path:
        return default_state_dir(self.env)

    @property
    def log_file(self) -> Path:
        """The daemon's own log (JSON lines, rotated): what `sessiond logs` shows."""
        return self.state_dir / "sessiond.log"

    @property
    def launchd_output(self) -> Path:
        """Where launchd sends stdout/stderr (early failures, before logging starts).
        Not the daemon's own log file: two writers, one of them rotating, would clash."""
        return self.state_dir / "launchd.log"

    @property
    def domain(self) -> str:
        return f"gui/{self.uid}"

    @property
    def service_target(self) -> str:
        return f"{self.domain}/{LABEL}"

    def passthrough_env(self) -> dict[str, str]:
        return {name: self.env[name] for name in PASSTHROUGH_ENV if self.env.get(name)}


@dataclass(frozen=True, slots=True)
class Step:
    """One command to run; `may_fail` steps are allowed a non-zero exit."""

    argv: tuple[str, ...]
    may_fail: bool = False
    retries: int = 0

    def __str__(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, slots=True)
class Plan:
    """What `install` does: the file to write and the commands to run afterwards."""

    path: Path
    content: str
    state: Literal["new", "changed", "identical"]
    steps: tuple[Step, ...]


# --- rendering -------------------------------------------------------------------------

_SYSTEMD_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def _systemd_word(value: str, *, exec_line: bool) -> str:
    """`value` as one word of a unit file line: specifiers and `$` escaped, quoted if needed."""
    if any(ch in value for ch in "\n\r\0"):
        raise ServiceError(f"Cannot write {value!r} into a systemd unit (it has a line break).")
    escaped = value.replace("%", "%%")
    if exec_line:
        escaped = escaped.replace("$", "$$")
    if _SYSTEMD_PLAIN.fullmatch(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _template(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def render_unit(host: Host) -> str:
    """The systemd user unit for this host: absolute interpreter, install-time settings."""
    text = _template("sessiond.systemd", UNIT_NAME)
    text = text.replace("@PYTHON@", _systemd_word(host.python, exec_line=True))
    lines = "".join(
        f"Environment={_systemd_word(f'{name}={value}', exec_line=False)}\n"
        for name, value in host.passthrough_env().items()
    )
    return text.replace("@ENVIRONMENT@\n", lines)


def render_plist(host: Host) -> str:
    """The launchd agent for this host: absolute interpreter, log file, settings."""
    data = plistlib.loads(_template("sessiond.launchd", f"{LABEL}.plist").encode("utf-8"))
    values = {"@PYTHON@": host.python, "@LOG_FILE@": str(host.launchd_output)}

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return values.get(node, node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(item) for key, item in node.items()}
        return node

    data = fill(data)
    data.setdefault("EnvironmentVariables", {}).update(host.passthrough_env())
    return plistlib.dumps(data, sort_keys=False).decode("utf-8")


def render(host: Host) -> str:
    return render_unit(host) if host.manager == "systemd" else render_plist(host)


# --- running commands ------------------------------------------------------------------


def _systemctl(*args: str, may_fail: bool = False) -> Step:
    return Step(("systemctl", "--user", *args), may_fail=may_fail)


def _launchctl(*args: str, may_fail: bool = False, retries: int = 0) -> Step:
    return Step(("launchctl", *args), may_fail=may_fail, retries=retries)


def _require_tool(host: Host) -> None:
    if shutil.which(host.tool, path=host.env.get("PATH", os.defpath)) is None:
        raise ServiceError(f"{host.tool} was not found on PATH; {NO_MANAGER_HINT}.")


def _run(host: Host, step: Step) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(step.argv[0], path=host.env.get("PATH", os.defpath))
    if exe is None:
        raise ServiceError(f"{step.argv[0]} was not found on PATH; {NO_MANAGER_HINT}.")
    for attempt in range(step.retries + 1):
        try:
            proc = subprocess.run(
                [exe, *step.argv[1:]],
                env=dict(host.env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"`{step}` did not finish within {exc.timeout:g} s.") from exc
        except OSError as exc:
            raise ServiceError(f"Cannot run `{step}`: {exc.strerror or exc}.") from exc
        if proc.returncode == 0 or step.may_fail:
            return proc
        if attempt < step.retries:
            # launchd may still be tearing down the job a `bootout` just removed.
            time.sleep(1.0)
    detail = _last_line(proc.stderr) or _last_line(proc.stdout) or "no output"
    hint = ""
    if step.argv[0] == "systemctl":
        hint = f"; without a systemd user session, {NO_MANAGER_HINT}"
    raise ServiceError(f"`{step}` failed (exit {proc.returncode}): {detail}{hint}.")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].rstrip(".") if lines else ""


def _write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, content.encode("utf-8"), 0o644)  # a unit file: readable, holds no secret


def print_line(line: str) -> None:
    print(line, flush=True)


# --- install / uninstall ---------------------------------------------------------------


def plan_install(host: Host) -> Plan:
    path = host.service_file
    content = render(host)
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise ServiceError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    state: Literal["new", "changed", "identical"]
    state = "new" if current is None else "identical" if current == content else "changed"
    steps: list[Step] = []
    if host.manager == "systemd":
        # Always reload: a previous install may have written the file and then failed
        # to reach the user manager.
        steps.append(_systemctl("daemon-reload"))
        if state == "new":
            steps.append(_systemctl("enable", "--now", UNIT_NAME))
        else:
            steps += [_systemctl("enable", UNIT_NAME), _systemctl("restart", UNIT_NAME)]
    else:
        steps.append(_launchctl("bootout", host.service_target, may_fail=True))
        steps.append(_launchctl("bootstrap", host.domain, str(path), retries=2))
    return Plan(path=path, content=content, state=state, steps=tuple(steps))


def install(
    dry_run: bool = False,
    *,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    echo: Echo = print_line,
) -> Plan:
    """Write the unit/plist with this interpreter's absolute path, enable and (re)start it.

    Idempotent: an identical file is left alone, and the service is still (re)started.
    With `dry_run`, print the file and the commands and change nothing.
    """
    host = Host.detect(platform, env, python)
    plan = plan_install(host)
    if dry_run:
        if plan.state == "identical":
            echo(f"{plan.path} is already installed and identical; it would not be rewritten.")
        else:
            verb = "replace" if plan.state == "changed" else "write"
            echo(f"Would {verb} {plan.path}:")
            echo(plan.content.removesuffix("\n"))
        echo("Would run:")
        for step in plan.steps:
            echo(f"  {step}")
        echo("Nothing was changed (dry run).")
        return plan

    _require_tool(host)
    try:
        if host.manager == "launchd":
            # launchd does not create the folder of StandardOutPath itself.
            host.launchd_output.parent.mkdir(parents=True, exist_ok=True)
        if plan.state != "identical":
            _write_atomic(plan.path, plan.content)
    except OSError as exc:
        raise ServiceError(f"Cannot write {exc.filename or plan.path}: {exc.strerror or exc}.") from exc
    if plan.state == "identical":
        echo(f"{plan.path} is already installed and identical; (re)starting it.")
    else:
        echo(f"{'Updated' if plan.state == 'changed' else 'Wrote'} {plan.path}.")
    for step in plan.steps:
        _run(host, step)
    echo("sessiond is running and starts at login; `sessiond logs -f` shows what it does.")
    if host.manager == "systemd" and not _lingering(host):
        echo(
            "To start it at boot and keep it running when you are logged out, run: "
            "loginctl enable-linger $USER"
        )
    return plan


def _lingering(host: Host) -> bool:
    user = host.env.get("USER") or getpass.getuser()
    return Path("/var/lib/systemd/linger", user).exists()


def uninstall(
    dry_run: bool = False,
    *,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    echo: Echo = print_line,
) -> None:
    """Stop and disable the service and remove its file; nothing to do if not installed."""
    host = Host.detect(platform, env)
    path = host.service_file
    if not path.exists():
        echo(f"sessiond is not installed as a service ({path} does not exist); nothing to do.")
        return
    if host.manager == "systemd":
        before = [_systemctl("disable", "--now", UNIT_NAME)]
        after = [_systemctl("daemon-reload")]
    else:
        before = [_launchctl("bootout", host.service_target, may_fail=True)]
        after = []
    if dry_run:
        echo("Would run:")
        for step in before:
            echo(f"  {step}")
        echo(f"Would remove {path}.")
        if after:
            echo("Then would run:")
            for step in after:
                echo(f"  {step}")
        echo("Nothing was changed (dry run).")
        return
    _require_tool(host)
    for step in before:
        _run(host, step)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise ServiceError(f"Cannot remove {path}: {exc.strerror or exc}.") from exc
    for step in after:
        _run(host, step)
    echo(f"Removed {path}; sessiond no longer starts at login.")


# --- start / stop / restart ------------------------------------------------------------

Action = Literal["start", "stop", "restart"]


def control(
    action: Action,
    *,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    echo: Echo = print_line,
) -> None:
    """`systemctl --user ACTION sessiond.service`, or the launchctl equivalent."""
    host = Host.detect(platform, env)
    path = host.service_file
    if not path.exists():
        raise ServiceError(
            f"sessiond is not installed as a service ({path} does not exist); "
            "run `sessiond install` first."
        )
    _require_tool(host)
    if host.manager == "systemd":
        _run(host, _systemctl(action, UNIT_NAME))
    else:
        loaded = _run(host, _launchctl("print", host.service_target, may_fail=True))
        if loaded.returncode != 0:
            if action == "stop":
                echo("sessiond is not running.")
                return
            _run(host, _launchctl("bootstrap", host.domain, str(path), retries=2))
        elif action == "stop":
            # Unloaded until the next login (RunAtLoad), like a stopped systemd unit.
            _run(host, _launchctl("bootout", host.service_target))
        else:
            kill = ("-k",) if action == "restart" else ()
            _run(host, _launchctl("kickstart", *kill, host.service_target))
    done = {"start": "Started", "stop": "Stopped", "restart": "Restarted"}[action]
    suffix = "; `sessiond start` starts it again" if action == "stop" else ""
    echo(f"{done} sessiond{suffix}.")


def start(
    *, platform: str | None = None, env: Mapping[str, str] | None = None, echo: Echo = print_line
) -> None:
    control("start", platform=platform, env=env, echo=echo)


def stop(
    *, platform: str | None = None, env: Mapping[str, str] | None = None, echo: Echo = print_line
) -> None:
    control("stop", platform=platform, env=env, echo=echo)


def restart(
    *, platform: str | None = None, env: Mapping[str, str] | None = None, echo: Echo = print_line
) -> None:
    control("restart", platform=platform, env=env, echo=echo)


