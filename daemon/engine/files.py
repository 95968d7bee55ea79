"""The transcript files the engine tracks, and how new ones are found.

A `Root` is one agent's folder; a `TrackedFile` is one transcript under it, with its
tailer (how far it was read) and its agent's classifier state. Discovery never follows a
symlink: `walk` skips them, `inside` refuses a path reached through one, and
`admissible` checks a candidate before it is tracked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sessiond.logs import WarnOnce
from sessiond.read.tailer import Tailer
from sessiond.sources.base import AgentSource, FileInfo, TranscriptState


@dataclass(eq=False, slots=True)
class TrackedFile:
    path: Path
    source: AgentSource
    info: FileInfo
    tailer: Tailer
    state: TranscriptState | None = None  # None: a cold file, not read yet
    failures: int = 0
    quarantined: str | None = None
    size: int = 0
    mtime: float = 0.0
    # The inode discovery found (lstat): the first open must find the same file.
    inode: int | None = None

    @property
    def session_id(self) -> str:
        return self.info.session_id

    @property
    def has_records(self) -> bool:
        """Read, and holding at least one record (not cold, not empty)."""
        return self.state is not None and self.state.last_activity is not None


@dataclass(slots=True)
class Root:
    source: AgentSource
    path: Path
    exists: bool = False


def walk(top: Path, warn: WarnOnce) -> Iterator[Path]:
    """Every regular file under `top`, never following a symlink (no loops, no escape)."""
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name.endswith(".jsonl"):
                            warn.warn(entry.path, "not-a-file",
                                      "skipping a transcript path that is not a file")
                        stack.append(Path(entry.path))
                    else:
                        yield Path(entry.path)
        except OSError as exc:
            if directory == top and not directory.exists():
                continue
            warn.warn(directory, "unreadable-dir", "cannot read directory", error=exc.strerror or str(exc))


def root_of(roots: list[Root], path: Path) -> Root | None:
    # String prefixes, not PurePath.is_relative_to: this runs for every write.
    text = os.fspath(path)
    for root in roots:
        top = os.fspath(root.path)
        if text == top or text.startswith(top.rstrip(os.sep) + os.sep):
            return root
    return None


def inside(path: Path, root: Root) -> bool:
    """Is `path` really under `root`: no `..` and no symlink on the way from it?

    `walk` never follows a symlink, but a watcher may report paths through a symlinked
    directory (watchfiles follows them), and a directory may be replaced by a symlink
    after its files were found. The root itself may be a symlink.
    """
    top = os.fspath(root.path).rstrip(os.sep)
    text = os.fspath(path)
    if not text.startswith(top + os.sep):
        return False
    parts = [part for part in text[len(top) + 1 :].split(os.sep) if part]
    if ".." in parts:
        return False
    # One lstat per part below the root (two for a Claude session), not a realpath of
    # both whole paths: this runs for every write of every transcript (string joins, not
    # pathlib, for the same reason).
    current = top
    for part in parts:
        current = current + os.sep + part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return False
        except OSError:
            # Fail closed: a part that cannot be checked may be a symlink. (A file that is
            # gone has nothing to read; its deletion is reported on its own.)
            return False
    return True


def admissible(path: Path, root: Root, warn: WarnOnce) -> tuple[FileInfo, os.stat_result] | None:
    """A candidate transcript's identity and stat, or None when it is not to be tracked."""
    info = root.source.identify(path, root.path)
    if info is None:
        return None
    if not str(path.relative_to(root.path)).isprintable():
        # Undecodable bytes (surrogate escapes) or control characters in the name: no
        # agent writes such names, and they cannot be shown or stored as text.
        warn.warn(path, "odd-name", "skipping a transcript whose name is not text")
        return None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None  # gone before it could be tracked: nothing to say
    except OSError as exc:
        warn.warn(path, "unstatable", "cannot stat a transcript; skipping it",
                  error=exc.strerror or str(exc))
        return None
    if stat.S_ISLNK(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        warn.warn(path, "not-a-file", "skipping a transcript path that is not a file")
        return None
    return info, st
