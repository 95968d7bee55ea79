"""What the watchers drive: a small Protocol, so `watch/` never reaches into the engine.

The engine implements it. File events are hints; the target reads each file itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Backend = Literal["inotify", "watchfiles"]


class WatchedRoot(Protocol):
    @property
    def path(self) -> Path: ...

    @property
    def exists(self) -> bool: ...


class WatchTarget(Protocol):
    @property
    def roots(self) -> Sequence[WatchedRoot]: ...

    def file_changed(self, path: Path, signal_at: float | None = None) -> None: ...

    def file_deleted(self, path: Path) -> None: ...

    def directory_added(self, path: Path, signal_at: float | None = None) -> None: ...

    def sweep(self) -> None:
        """Stat every known file and look for new ones: catches what events missed."""

    def check_roots(self) -> Sequence[WatchedRoot]:
        """Pick up roots created since start; returns the ones that just appeared."""

    def is_read_up_to_date(self, path: Path, st: os.stat_result) -> bool:
        """Has this file been read as it is now (a close after writes already read)?"""

    def tracked_under(self, directory: Path) -> list[Path]:
        """The tracked files below a directory (it moved away: they are gone)."""


@dataclass(slots=True)
class WatchStatus:
    """Which backend follows the roots right now (None: none yet); the sweep's pace follows it."""

    backend: Backend | None = None
