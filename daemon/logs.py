"""Logging: structlog on top of the standard library's handlers.

The daemon writes JSON lines to `sessiond.log` in the state dir (mode 0600, rotated) and
readable lines to stderr: coloured console lines on a terminal, `key=value` lines under
systemd or launchd, where stderr goes to the journal or a log file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import structlog

_configured = False
# Secrets that must never reach a log line (the daemon's token; see `add_secret`).
_secrets: set[str] = set()
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"\\]+")
_TOKEN_PARAM = re.compile(r"(?i)(token=)[^&\s'\"\\]+")
# A library's error of one kind is logged at most this often; the next line says how
# many were left out (fd exhaustion once logged 207,606 lines in 37 s).
REPEAT_EVERY_S = 60.0


def add_secret(secret: str) -> None:
    """Never log this text (the token: registered at start and at each rotation)."""
    if secret:
        _secrets.add(secret)


def scrub(text: str) -> str:
    """`text` without any known secret, Bearer credential or `token=` value."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return _TOKEN_PARAM.sub(r"\1[redacted]", _BEARER.sub(r"\1[redacted]", text))


class _LibraryRecords(logging.Filter):
    """Library log records (aiohttp's "Error handling request" for a malformed request,
    accept() failing with EMFILE...) are flattened to scrubbed text, and one kind of
    error is logged once a minute with a count. Our own structlog records pass as they
    are: they never hold a secret (tests check it)."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True  # structlog's own event dict
        kind = type(record.exc_info[1]).__name__ if record.exc_info and record.exc_info[1] else ""
        if record.levelno >= logging.WARNING:
            key = (record.name, kind or str(record.msg)[:80])
            now = time.monotonic()
            since, left_out = self._last.get(key, (-REPEAT_EVERY_S, 0))
            if now - since < REPEAT_EVERY_S:
                self._last[key] = (since, left_out + 1)
                return False
            self._last[key] = (now, 0)
            if left_out:
                record.msg = f"{record.getMessage()} (and {left_out} more like it in the last minute)"
                record.args = None
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = scrub(text), None
        return True


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
    library_records = _LibraryRecords()
    console.addFilter(library_records)
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
        to_file.addFilter(library_records)
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
