"""`sessiond install|uninstall|start|stop|restart|logs|open`: the systemd unit and the
launchd agent.

The real `systemctl --user`, `launchctl` and `journalctl` cannot run here (no systemd user
manager, no macOS), so these tests put recording stand-ins first on `PATH`: tiny scripts
that append their argv to a file (and fail on request). The unit file itself is checked
with the real `systemd-analyze verify`; the plist is round-tripped through `plistlib`.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sessiond.cli.service_cmds import register
from sessiond.service import install as service
from sessiond.service import logs as service_logs

STANDIN = f"""#!{sys.executable}
import json, os, sys
name = os.path.basename(sys.argv[0])
call = [name, *sys.argv[1:]]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(call) + "\\n")
line = " ".join(call)
for failing in filter(None, os.environ.get("STANDIN_FAIL", "").split(",")):
    if line.startswith(failing):
        print(name + ": stand-in failure for " + line, file=sys.stderr)
        sys.exit(1)
if name == "journalctl":
    print("journal line from the stand-in")
"""


class Env(dict[str, str]):
    """The environment the service functions see, plus what the stand-ins recorded."""

    root: Path

    @property
    def calls(self) -> list[list[str]]:
        log = Path(self["STANDIN_LOG"])
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def clear_calls(self) -> None:
        Path(self["STANDIN_LOG"]).unlink(missing_ok=True)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemctl", "launchctl", "journalctl"):
        script = bin_dir / name
        script.write_text(STANDIN)
        script.chmod(0o755)
    result = Env(
        HOME=str(tmp_path / "home"),
        USER="tester",
        PATH=f"{bin_dir}{os.pathsep}{os.defpath}",
        SESSIOND_STATE_DIR=str(tmp_path / "state"),
        STANDIN_LOG=str(tmp_path / "calls.jsonl"),
    )
    result.root = tmp_path
    return result


def _install(env: Env, platform: str, dry_run: bool = False) -> list[str]:
    out: list[str] = []
    service.install(dry_run, platform=platform, env=env, echo=out.append)
    return out


UNIT = Path(".config/systemd/user/sessiond.service")
PLIST = Path("Library/LaunchAgents/dev.sessiond.plist")


def _service_file(env: Env, platform: str) -> Path:
    return Path(env["HOME"]) / (UNIT if platform == "linux" else PLIST)


# --- the unit file ---------------------------------------------------------------------


def _verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not Path(analyze).exists():
        pytest.fail("systemd-analyze is missing (Debian package `systemd`)")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    verify_env = {
        "PATH": os.defpath,
        "HOME": str(tmp_path / "analyze-home"),
        "XDG_RUNTIME_DIR": str(runtime),
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        [analyze, "--user", "verify", str(unit)],
        env=verify_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux-only")
@pytest.mark.parametrize("interpreter_dir", ["plain", "with space"])
def test_rendered_unit_passes_systemd_analyze_verify(
    env: Env, tmp_path: Path, interpreter_dir: str
) -> None:
    python = sys.executable
    if interpreter_dir != "plain":
        # An interpreter whose path needs quoting in ExecStart.
        link = tmp_path / interpreter_dir / "python"
        link.parent.mkdir()
        link.symlink_to(sys.executable)
        python = str(link)
    env["SESSIOND_STATE_DIR"] = str(tmp_path / 'state 100% "$HOME"')
    env["CODEX_HOME"] = "/opt/codex"
    host = service.Host.detect("linux", env, python)
    text = service.render_unit(host)
    assert "@" not in text.replace("default.target", "")
    assert f"ExecStart={python} -m sessiond run" in text or f'"{python}"' in text
    unit = tmp_path / "unit" / "sessiond.service"
    unit.parent.mkdir()
    unit.write_text(text)
    proc = _verify(unit, tmp_path)
    # Unknown keys and bad values are only warnings (rc 0): stderr must be empty.
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux-only")
def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The verify check above is not vacuous: a typo in a key shows up on stderr."""
    host = service.Host.detect("linux", {"HOME": str(tmp_path)})
    text = service.render_unit(host).replace("Restart=on-failure", "Restrat=on-failure")
    unit = tmp_path / "sessiond.service"
    unit.write_text(text)
    assert "Restrat" in _verify(unit, tmp_path).stderr


def test_unit_has_the_supervision_settings(env: Env) -> None:
    text = service.render_unit(service.Host.detect("linux", env))
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "WatchdogSec=30",
        "StartLimitBurst=5",
        "WantedBy=default.target",
        f"Environment=SESSIOND_STATE_DIR={env['SESSIOND_STATE_DIR']}",
    ):
        assert line in text.splitlines()
    assert f"ExecStart={os.path.abspath(sys.executable)} -m sessiond run" in text


# --- the plist -------------------------------------------------------------------------


def test_plist_parses_and_has_the_required_keys(env: Env, tmp_path: Path) -> None:
    env["SESSIOND_STATE_DIR"] = str(tmp_path / "state & <logs>")
    env["CLAUDE_CONFIG_DIR"] = "/opt/claude"
    text = service.render_plist(service.Host.detect("darwin", env))
    data = plistlib.loads(text.encode())
    log_file = str(tmp_path / "state & <logs>" / "launchd.log")
    assert data["Label"] == "dev.sessiond"
    assert data["ProgramArguments"] == [os.path.abspath(sys.executable), "-m", "sessiond", "run"]
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert isinstance(data["ThrottleInterval"], int) and data["ThrottleInterval"] > 0
    assert data["StandardOutPath"] == data["StandardErrorPath"] == log_file
    assert data["ProcessType"] == "Background"
    assert data["EnvironmentVariables"]["SESSIOND_STATE_DIR"] == env["SESSIOND_STATE_DIR"]
    assert data["EnvironmentVariables"]["CLAUDE_CONFIG_DIR"] == "/opt/claude"
    assert "@" not in json.dumps(data)


# --- install ---------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_dry_run_prints_exactly_what_install_writes_and_runs(env: Env, platform: str) -> None:
    path = _service_file(env, platform)
    dry = "\n".join(_install(env, platform, dry_run=True)) + "\n"
    assert not path.exists()
    assert env.calls == []
    assert not Path(env["SESSIOND_STATE_DIR"]).exists()

    _install(env, platform)
    written = path.read_text()
    header = f"Would write {path}:\n"
    assert dry.startswith(header)
    assert dry[len(header) :].split("Would run:\n")[0] == written
    printed = [line.strip() for line in dry.split("Would run:\n")[1].splitlines()]
    printed = printed[: printed.index("Nothing was changed (dry run).")]
    assert printed == [" ".join(call) for call in env.calls]


def test_install_on_linux(env: Env) -> None:
    out = _install(env, "linux")
    unit = _service_file(env, "linux")
    assert unit.exists()
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    assert env.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "sessiond.service"],
    ]
    assert any("loginctl enable-linger" in line for line in out)


def test_install_respects_xdg_config_home(env: Env, tmp_path: Path) -> None:
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    _install(env, "linux")
    assert (tmp_path / "xdg/systemd/user/sessiond.service").exists()
    assert not _service_file(env, "linux").exists()


def test_install_on_macos(env: Env) -> None:
    _install(env, "darwin")
    plist = _service_file(env, "darwin")
    assert plistlib.loads(plist.read_bytes())["Label"] == "dev.sessiond"
    # launchd does not create the log file's folder itself.
    assert Path(env["SESSIOND_STATE_DIR"]).is_dir()
    uid = os.getuid()
    assert env.calls == [
        ["launchctl", "bootout", f"gui/{uid}/dev.sessiond"],
        ["launchctl", "bootstrap", f"gui/{uid}", str(plist)],
    ]


def test_install_on_macos_ignores_a_failing_bootout(env: Env) -> None:
    env["STANDIN_FAIL"] = "launchctl bootout"  # not loaded yet: launchctl says so, exit 1
    _install(env, "darwin")
    assert [call[1] for call in env.calls] == ["bootout", "bootstrap"]


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_install_twice_is_idempotent(env: Env, platform: str) -> None:
    _install(env, platform)
    path = _service_file(env, platform)
    first = path.read_text()
    mtime = path.stat().st_mtime_ns
    env.clear_calls()

    out = _install(env, platform)
    assert "already installed and identical" in out[0]
    assert path.read_text() == first
    assert path.stat().st_mtime_ns == mtime
    # Still (re)started.
    if platform == "linux":
        assert env.calls == [
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "sessiond.service"],
            ["systemctl", "--user", "restart", "sessiond.service"],
        ]
    else:
        assert [call[1] for call in env.calls] == ["bootout", "bootstrap"]

    env.clear_calls()
    dry = _install(env, platform, dry_run=True)
    assert "already installed and identical" in dry[0]
    assert env.calls == []


def test_install_replaces_a_changed_unit(env: Env) -> None:
    _install(env, "linux")
    unit = _service_file(env, "linux")
    unit.write_text(unit.read_text().replace("RestartSec=2", "RestartSec=9"))
    env.clear_calls()
    out = _install(env, "linux")
    assert out[0] == f"Updated {unit}."
    assert "RestartSec=2" in unit.read_text()
    assert env.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "sessiond.service"],
        ["systemctl", "--user", "restart", "sessiond.service"],
    ]


def test_install_without_systemctl_fails_with_one_sentence(env: Env, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env["PATH"] = str(empty)
    with pytest.raises(service.ServiceError) as info:
        _install(env, "linux")
    message = str(info.value)
    assert "systemctl was not found" in message and "--supervise" in message
    assert "\n" not in message
    assert not _service_file(env, "linux").exists()


def test_a_failing_systemctl_is_reported(env: Env) -> None:
    env["STANDIN_FAIL"] = "systemctl --user daemon-reload"
    with pytest.raises(service.ServiceError) as info:
        _install(env, "linux")
    message = str(info.value)
    assert message.startswith("`systemctl --user daemon-reload` failed (exit 1)")
    assert "stand-in failure" in message and "\n" not in message


def test_unsupported_platform(env: Env) -> None:
    with pytest.raises(service.ServiceError, match="supports Linux"):
        _install(env, "win32")


# --- uninstall -------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_uninstall(env: Env, platform: str) -> None:
    _install(env, platform)
    path = _service_file(env, platform)
    env.clear_calls()

    out: list[str] = []
    service.uninstall(True, platform=platform, env=env, echo=out.append)
    assert path.exists() and env.calls == []
    assert f"Would remove {path}." in out

    service.uninstall(platform=platform, env=env, echo=out.append)
    assert not path.exists()
    if platform == "linux":
        assert env.calls == [
            ["systemctl", "--user", "disable", "--now", "sessiond.service"],
            ["systemctl", "--user", "daemon-reload"],
        ]
    else:
        assert env.calls == [["launchctl", "bootout", f"gui/{os.getuid()}/dev.sessiond"]]

    env.clear_calls()
    out.clear()
    service.uninstall(platform=platform, env=env, echo=out.append)
    assert "nothing to do" in out[0]
    assert env.calls == []


# --- start / stop / restart ------------------------------------------------------------


def test_start_stop_restart_on_linux(env: Env) -> None:
    with pytest.raises(service.ServiceError, match="run `sessiond install` first"):
        service.start(platform="linux", env=env, echo=lambda _: None)
    _install(env, "linux")
    env.clear_calls()
    out: list[str] = []
    for action in (service.start, service.stop, service.restart):
        action(platform="linux", env=env, echo=out.append)
    assert env.calls == [
        ["systemctl", "--user", verb, "sessiond.service"] for verb in ("start", "stop", "restart")
    ]
    assert out[0] == "Started sessiond."


def test_start_stop_restart_on_macos(env: Env) -> None:
    _install(env, "darwin")
    plist = str(_service_file(env, "darwin"))
    target = f"gui/{os.getuid()}/dev.sessiond"
    env.clear_calls()
    quiet: Callable[[str], None] = lambda _: None  # noqa: E731

    # Loaded (`launchctl print` succeeds): kickstart, bootout, kickstart -k.
    for action in (service.start, service.stop, service.restart):
        action(platform="darwin", env=env, echo=quiet)
    assert [c[1:] for c in env.calls if c[1] != "print"] == [
        ["kickstart", target],
        ["bootout", target],
        ["kickstart", "-k", target],
    ]

    # Not loaded: start and restart bootstrap it; stop has nothing to do.
    env["STANDIN_FAIL"] = "launchctl print"
    env.clear_calls()
    out: list[str] = []
    for action in (service.start, service.stop, service.restart):
        action(platform="darwin", env=env, echo=out.append)
    assert [c[1:] for c in env.calls if c[1] != "print"] == [
        ["bootstrap", f"gui/{os.getuid()}", plist],
        ["bootstrap", f"gui/{os.getuid()}", plist],
    ]
    assert "sessiond is not running." in out


# --- logs ------------------------------------------------------------------------------


def test_logs_use_the_journal_for_the_systemd_unit(
    env: Env, capfd: pytest.CaptureFixture[str]
) -> None:
    _install(env, "linux")
    env.clear_calls()
    assert service_logs.logs(True, platform="linux", env=env) == 0
    assert env.calls == [["journalctl", "--user", "-u", "sessiond.service", "-n", "200", "-f"]]
    assert "journal line from the stand-in" in capfd.readouterr().out


def test_logs_read_the_log_file_on_macos(env: Env) -> None:
    with pytest.raises(service.ServiceError, match="no logs yet"):
        service_logs.logs(platform="darwin", env=env, write=lambda _: None)
    log_file = Path(env["SESSIOND_STATE_DIR"]) / "sessiond.log"
    log_file.parent.mkdir(parents=True)
    log_file.write_text("".join(f"line {i}\n" for i in range(500)))
    out: list[str] = []
    assert service_logs.logs(platform="darwin", env=env, lines=3, write=out.append) == 0
    assert "".join(out) == "line 497\nline 498\nline 499\n"
    assert env.calls == []


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout} s")
        time.sleep(0.02)


def test_tail_follows_appends_truncation_and_rotation(tmp_path: Path) -> None:
    log_file = tmp_path / "sessiond.log"
    log_file.write_text("old 1\nold 2\n")
    out: list[str] = []
    stop = threading.Event()
    follower = threading.Thread(
        target=service_logs.tail_file,
        args=(log_file,),
        kwargs={
            "lines": 1,
            "follow": True,
            "write": out.append,
            "poll": 0.02,
            "should_stop": stop.is_set,
        },
    )
    follower.start()
    try:
        _wait_for(lambda: "".join(out) == "old 2\n")
        with log_file.open("a") as f:
            f.write("new 3\n")
        _wait_for(lambda: "".join(out).endswith("new 3\n"))
        log_file.write_text("truncated 4\n")
        _wait_for(lambda: "".join(out).endswith("truncated 4\n"))
        rotated = tmp_path / "sessiond.log.new"
        rotated.write_text("rotated 5\n")
        rotated.replace(log_file)
        _wait_for(lambda: "".join(out).endswith("rotated 5\n"))
    finally:
        stop.set()
        follower.join(10)
    assert "".join(out) == "old 2\nnew 3\ntruncated 4\nrotated 5\n"


# --- open ------------------------------------------------------------------------------


def test_open_uses_the_running_daemon_or_the_default_port(env: Env) -> None:
    opened: list[str] = []

    def browser(url: str) -> bool:
        opened.append(url)
        return True

    env["SESSIOND_PORT"] = "7444"
    assert service_logs.open_panel(env=env, open_browser=browser, echo=lambda _: None) == (
        "http://127.0.0.1:7444/"
    )
    runtime = Path(env["SESSIOND_STATE_DIR"]) / "runtime.json"
    runtime.parent.mkdir(parents=True)
    info = {"pid": os.getpid(), "port": 7555, "url": "http://127.0.0.1:7555", "version": "x"}
    runtime.write_text(json.dumps(info | {"started_at": "2026-01-01T00:00:00Z"}))
    out: list[str] = []
    service_logs.open_panel(env=env, open_browser=browser, echo=out.append)
    assert opened == ["http://127.0.0.1:7444/", "http://127.0.0.1:7555/"]  # no token yet
    assert out == ["Opened http://127.0.0.1:7555/"]
    # With a token, the browser gets the login link; the printed line never shows it.
    (runtime.parent / "token").write_text("s3cret+/=\n")
    service_logs.open_panel(env=env, open_browser=browser, echo=out.append)
    assert opened[-1] == "http://127.0.0.1:7555/login?token=s3cret%2B%2F%3D"
    assert out[-1] == "Opened http://127.0.0.1:7555/"
    service_logs.open_panel(env=env, open_browser=lambda _: False, echo=out.append)
    assert out[-1] == ("No browser could be started; open "
                       "http://127.0.0.1:7555/login?token=s3cret%2B%2F%3D to log in to the panel")
    (runtime.parent / "token").unlink()

    # A runtime.json left by a crashed daemon (its pid is gone) is not trusted.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    runtime.write_text(json.dumps(info | {"pid": int(dead.stdout)}))
    service_logs.open_panel(env=env, open_browser=lambda _: False, echo=out.append)
    assert out[-1] == "No browser could be started; the panel is at http://127.0.0.1:7444/"


# --- the CLI ---------------------------------------------------------------------------


def _cli() -> click.Group:
    @click.group()
    def group() -> None:
        pass

    register(group)
    return group


def test_cli_commands(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the CLI acts on this machine's platform; the stand-ins here are Linux's")
    for name in ("XDG_CONFIG_HOME", "SESSIOND_PORT", "SESSIOND_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cli = _cli()
    assert set(cli.commands) >= {
        "install", "uninstall", "start", "stop", "restart", "logs", "open",
    }
    runner = CliRunner()

    result = runner.invoke(cli, ["start"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "sessiond install" in result.stderr

    result = runner.invoke(cli, ["install", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Would write {_service_file(env, 'linux')}:\n")
    assert env.calls == []

    result = runner.invoke(cli, ["install"])
    assert result.exit_code == 0, result.output
    assert _service_file(env, "linux").exists()

    env.clear_calls()
    for args in (["restart"], ["logs", "-n", "5"], ["uninstall"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert [call[:3] for call in env.calls] == [
        ["systemctl", "--user", "restart"],
        ["journalctl", "--user", "-u"],
        ["systemctl", "--user", "disable"],
        ["systemctl", "--user", "daemon-reload"],
    ]

    monkeypatch.setenv("PATH", str(env.root / "no-such-dir"))
    result = runner.invoke(cli, ["install"])
    assert result.exit_code == 1
    assert result.stderr.startswith("systemctl was not found on PATH")
