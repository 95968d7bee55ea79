"""`sessiond logs` and `sessiond open`: the daemon's log (the user journal or its own file)
and the web panel in a browser."""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
import time
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

from sessiond.config import DEFAULT_HOST, ConfigError, default_port, default_state_dir
from sessiond.service.install import UNIT_NAME, Echo, Host, ServiceError, print_line
from sessiond.statedir import RUNTIME_NAME, TOKEN_NAME, read_runtime_quietly, read_token

# --- logs ------------------------------------------------------------------------------


def logs(
    follow: bool = False,
    *,
    lines: int = 200,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    write: Callable[[str], None] | None = None,
) -> int:
    """Show the last `lines` of the log (and follow it): the user journal when sessiond
    runs as a systemd unit, otherwise `<state dir>/sessiond.log`. Returns the exit code."""
    host = Host.detect(platform, env)
    journalctl = shutil.which("journalctl", path=host.env.get("PATH", os.defpath))
    if host.platform.startswith("linux") and journalctl and host.service_file.exists():
        argv = [journalctl, "--user", "-u", UNIT_NAME, "-n", str(lines)]
        if follow:
            argv.append("-f")
        try:
            return subprocess.run(argv, env=dict(host.env), check=False).returncode
        except KeyboardInterrupt:
            return 0
        except OSError as exc:
            raise ServiceError(f"Cannot run journalctl: {exc.strerror or exc}.") from exc
    if not host.log_file.exists():
        raise ServiceError(
            f"There are no logs yet: {host.log_file} does not exist"
            + (" and sessiond is not installed as a systemd user service" if journalctl else "")
            + "."
        )
    out = write or _write_stdout
    try:
        tail_file(host.log_file, lines=lines, follow=follow, write=out)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ServiceError(f"Cannot read {host.log_file}: {exc.strerror or exc}.") from exc
    return 0


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _last_lines(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    start = end
    for _ in range(lines):
        start = data.rfind(b"\n", 0, start)
        if start < 0:
            return data
    return data[start + 1 :]


def tail_file(
    path: Path,
    *,
    lines: int = 200,
    follow: bool = False,
    write: Callable[[str], None] = _write_stdout,
    poll: float = 0.5,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Write the last `lines` lines of `path`; with `follow`, then what is appended,
    across truncation and rotation (the path replaced by a new file), until
    `should_stop()` or Ctrl-C."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    f = path.open("rb")
    try:
        size = os.fstat(f.fileno()).st_size
        chunk = 64 * 1024
        start = size
        data = b""
        while start > 0 and data.count(b"\n") <= lines:
            start = max(0, start - chunk)
            f.seek(start)
            data = f.read(size - start)
        f.seek(size)
        tail = _last_lines(data, lines)
        if tail:
            write(decoder.decode(tail))
        while follow and not should_stop():
            new = f.read()
            if new:
                write(decoder.decode(new))
                continue
            time.sleep(poll)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                continue
            if current.st_ino != os.fstat(f.fileno()).st_ino:
                f.close()
                f = path.open("rb")
            elif current.st_size < f.tell():
                f.seek(0)
    finally:
        f.close()


# --- open ------------------------------------------------------------------------------


def panel_url(env: Mapping[str, str] | None = None) -> str:
    """The running daemon's URL from `runtime.json`, else the default port's URL."""
    env = os.environ if env is None else env
    info = read_runtime_quietly(default_state_dir(env) / RUNTIME_NAME)
    if info is not None and _pid_alive(info.pid) and info.url:
        url = info.url
    else:
        try:
            port = default_port(env)
        except ConfigError as exc:
            raise ServiceError(str(exc)) from exc
        url = f"http://{DEFAULT_HOST}:{port}/"
    return url if url.count("/") > 2 else url + "/"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def open_panel(
    *,
    env: Mapping[str, str] | None = None,
    open_browser: Callable[[str], bool] = webbrowser.open,
    echo: Echo = print_line,
) -> str:
    """Open the web panel in the browser, logged in; returns its URL (printed either way).

    The browser gets `/login?token=…`, which sets the panel's cookie and redirects to the
    panel at once; the printed line names the panel without the token, unless no browser
    could be started (then the login link is the only way in).
    """
    url = panel_url(env)
    token = read_token(default_state_dir(os.environ if env is None else env) / TOKEN_NAME)
    login = f"{url}login?token={quote(token, safe='')}" if token else url
    if open_browser(login):
        echo(f"Opened {url}")
    elif token:
        echo(f"No browser could be started; open {login} to log in to the panel")
    else:
        echo(f"No browser could be started; the panel is at {url}")
    return url
