"""The state directory: everything sessiond keeps on disk beside its database.

One place for its rules: the directory is the user's own and 0700; the `token` is
created 0600 on first use; `daemon.lock` makes one daemon per state dir; `runtime.json`
says where the running daemon listens, and this module is its only reader and writer.
(The hook forwarder reads it too, with the standard library only, to start fast.)
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import IO

from sessiond.protocol import RuntimeInfo

RUNTIME_NAME = "runtime.json"
TOKEN_NAME = "token"
LOCK_NAME = "daemon.lock"


class DaemonError(Exception):
    """The daemon cannot start; the message is one sentence for the user."""


class RuntimeUnreadable(Exception):
    """`runtime.json` exists but does not hold what a daemon writes there."""


def ensure_state_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        # Another user's directory (a shared /tmp path in SESSIOND_STATE_DIR): its owner
        # could read the token and every title stored in it.
        raise DaemonError(f"The state directory {path} belongs to another user; choose another.")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def load_token(path: Path) -> str:
    """The shared secret for hooks and the panel; created 0600 on first start.

    A new token is written to a temporary file first and linked into place only when
    complete (link fails if another process made one meanwhile: then that one is used),
    so a full disk never leaves an empty token file behind.
    """
    for _ in range(3):
        try:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token
            path.unlink()  # empty (left by an older release on a full disk): make one
        except FileNotFoundError:
            pass
        token = secrets.token_urlsafe(32)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(token + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)
            return token
        except FileExistsError:
            continue  # another process won the race: read its token
        finally:
            tmp.unlink(missing_ok=True)
    raise DaemonError(f"Cannot create the token in {path.parent}.")


def rotate_token(path: Path) -> str:
    """Replace the token with a new one (0600, in one step); returns it.

    The running daemon notices on its next request: the old token, and every panel
    cookie derived from it, stop working at once.
    """
    token = secrets.token_urlsafe(32)
    write_atomic(path, (token + "\n").encode("utf-8"))
    return token


def read_token(path: Path) -> str | None:
    """The token if one was created (clients never create it)."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` in one step: a reader sees the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_runtime(path: Path) -> RuntimeInfo | None:
    """The running daemon's `runtime.json`; None when there is none.

    Raises RuntimeUnreadable when the file exists but is not what a daemon writes.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RuntimeUnreadable(f"{path} cannot be read: {exc.strerror}.") from exc
    try:
        return RuntimeInfo.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuntimeUnreadable(f"{path} is not a sessiond runtime file.") from exc


def read_runtime_quietly(path: Path) -> RuntimeInfo | None:
    """`read_runtime`, with an unreadable file taken as no daemon."""
    try:
        return read_runtime(path)
    except RuntimeUnreadable:
        return None


def write_runtime(path: Path, info: RuntimeInfo) -> None:
    write_atomic(path, json.dumps(info.to_json()).encode("utf-8"))


def remove_runtime(path: Path, pid: int) -> None:
    """Remove `runtime.json` if it is this process's (a newer daemon may have replaced it)."""
    running = read_runtime_quietly(path)
    if running is not None and running.pid == pid:
        path.unlink(missing_ok=True)


class StateLock:
    """One daemon per state dir: an exclusive lock on `daemon.lock`, held while it runs."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        path = self.state_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fh = os.fdopen(fd, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            running = read_runtime_quietly(self.state_dir / RUNTIME_NAME)
            where = f" (pid {running.pid}, port {running.port})" if running else ""
            raise DaemonError(f"sessiond is already running for {self.state_dir}{where}.") from None
        self._file = fh

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
