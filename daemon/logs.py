"""Logging: structlog on top of the standard library's handlers.

The daemon writes JSON lines to `sessiond.log` in the state dir (mode 0600, rotated) and
readable lines to stderr: coloured console lines on a terminal, `key=value` lines under
systemd or launchd, where stderr goes to the journal or a log file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

import structlog

_configured = False


def configure(log_file: Path | None, *, level: int = logging.INFO) -> None:
    """Set up structlog once per process; later calls only add nothing."""
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)

    console = logging.StreamHandler(sys.stderr)
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True)
        if sys.stderr.isatty()
        else structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"])
    )
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root.addHandler(console)

    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file 0600 before the handler opens it: logs hold prompt titles.
        fd = os.open(log_file, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        os.close(fd)
        to_file = _PrivateRotatingFileHandler(
            log_file, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
        )
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processor=structlog.processors.JSONRenderer(),
            )
        )
        root.addHandler(to_file)
    # aiohttp logs every request at INFO; the access log is noise for a local daemon.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every log file it opens, including the fresh one after a rollover, is 0600 (an
    existing one left readable by others, by an older release or by hand, is tightened)."""

    def _open(self) -> Any:
        def private(path: str, flags: int) -> int:
            fd = os.open(path, flags, 0o600)
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            return fd

        return open(  # the handler owns and closes the stream
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=private,
        )


class WarnOnce:
    """Warn about a recurring bad input once per (file, kind), not once per line."""

    def __init__(self, logger: Any, limit: int = 10_000) -> None:
        self._log = logger
        self._seen: set[tuple[str, str]] = set()
        self._limit = limit

    def warn(self, path: Path | str, kind: str, event: str, **fields: Any) -> bool:
        key = (str(path), kind)
        if key in self._seen:
            return False
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)
        self._log.warning(event, path=str(path), kind=kind, **fields)
        return True

    def forget(self, path: Path | str) -> None:
        name = str(path)
        self._seen = {k for k in self._seen if k[0] != name}
