"""The inotify backend on real files: its events reach the engine, with no polling."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sessiond.config import Config, ConfigError
from sessiond.engine.coordinator import Engine
from sessiond.engine.hub import EventFilter, EventHub
from sessiond.engine.outputs import Publisher
from sessiond.sources import all_sources
from sessiond.watch import inotify as inotify_mod
from sessiond.watch import watcher
from sessiond.watch.inotify import InotifyUnavailable, TreeWatcher, inotify_loop
from sessiond.watch.target import WatchStatus

from tests.transcripts import ClaudeTranscript

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")


class RecordingEngine(Engine):
    """The real engine, noting each call the watcher makes."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, Publisher(EventHub()), all_sources())
        self.calls: list[tuple[str, Path]] = []
        self.signalled = asyncio.Event()

    def file_changed(self, path: Path, signal_at: float | None = None) -> None:
        self.calls.append(("changed", path))
        self.signalled.set()
        super().file_changed(path, signal_at)

    def file_deleted(self, path: Path) -> None:
        self.calls.append(("deleted", path))
        self.signalled.set()
        super().file_deleted(path)

    def directory_added(self, path: Path, signal_at: float | None = None) -> None:
        self.calls.append(("dir", path))
        super().directory_added(path, signal_at)

    async def until(self, kind: str, path: Path, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while (kind, path) not in self.calls:
                self.signalled.clear()
                await self.signalled.wait()


def make_engine(tmp_path: Path) -> RecordingEngine:
    config = Config(state_dir=tmp_path / "state", env={"CLAUDE_CONFIG_DIR": str(tmp_path / "claude")},
                    home=tmp_path / "home", notify=False)
    return RecordingEngine(config)


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[RecordingEngine, TreeWatcher, Path]]:
    projects = tmp_path / "claude" / "projects"
    projects.mkdir(parents=True)
    engine = make_engine(tmp_path)
    engine.start()
    tree = TreeWatcher(engine, asyncio.get_running_loop())
    tree.watch_tree(projects)
    yield engine, tree, projects
    tree.close()
    engine.close()


async def test_append_reaches_the_engine(watched: tuple[RecordingEngine, TreeWatcher, Path]) -> None:
    engine, _, projects = watched
    t = ClaudeTranscript(projects)
    t.path.parent.mkdir(parents=True)
    await asyncio.sleep(0.05)  # the new project directory is watched by now
    sub = engine.publisher.hub.subscribe(EventFilter())
    t.write(t.prompt("hello"))
    await engine.until("changed", t.path)
    assert engine.sessions[t.session_id].status == "working"
    t.write(t.reply("done"))
    async with asyncio.timeout(5):
        while engine.sessions[t.session_id].status != "waiting_for_input":
            await sub.ready.wait()
            sub.take()


async def test_file_in_a_brand_new_directory_is_found(
    watched: tuple[RecordingEngine, TreeWatcher, Path],
) -> None:
    engine, tree, projects = watched
    # The directory and its file are created back to back: the file can beat the
    # watch on its directory, so the directory is scanned when it is reported.
    fresh = ClaudeTranscript(projects, cwd="/home/u/fresh")
    fresh.write(fresh.prompt("right away"))
    async with asyncio.timeout(5):
        while fresh.session_id not in engine.sessions:
            await asyncio.sleep(0.01)
    assert ("dir", fresh.path.parent) in engine.calls
    # Nested directories made at once (a subagent's `<session>/subagents/`) are watched.
    subagents = fresh.path.parent / fresh.session_id / "subagents"
    subagents.mkdir(parents=True)
    (subagents / "agent-a1.jsonl").write_text("")
    async with asyncio.timeout(5):
        while str(subagents) not in tree._wds:
            await asyncio.sleep(0.01)
    # Later writes in the new directory come through its own watch.
    engine.calls.clear()
    fresh.write(fresh.reply("done"))
    await engine.until("changed", fresh.path)


async def test_delete_and_move_away(watched: tuple[RecordingEngine, TreeWatcher, Path]) -> None:
    engine, _, projects = watched
    gone = ClaudeTranscript(projects)
    gone.write(gone.prompt("soon deleted"))
    await engine.until("changed", gone.path)
    gone.path.unlink()
    await engine.until("deleted", gone.path)
    assert gone.session_id not in engine.sessions

    moved = ClaudeTranscript(projects, cwd="/home/u/other")
    moved.write(moved.prompt("soon moved"))
    await engine.until("changed", moved.path)
    moved.path.parent.rename(projects.parent / "elsewhere")
    async with asyncio.timeout(5):
        while moved.session_id in engine.sessions:
            await asyncio.sleep(0.01)


async def test_non_transcripts_are_ignored(watched: tuple[RecordingEngine, TreeWatcher, Path]) -> None:
    engine, _, projects = watched
    (projects / "notes.txt").write_text("not a transcript\n")
    marker = ClaudeTranscript(projects)
    marker.write(marker.prompt("after the note"))
    await engine.until("changed", marker.path)
    assert all(path.suffix == ".jsonl" for kind, path in engine.calls if kind != "dir")


async def test_writes_in_one_batch_are_read_once(
    watched: tuple[RecordingEngine, TreeWatcher, Path],
) -> None:
    engine, tree, projects = watched
    t = ClaudeTranscript(projects)
    t.write(t.prompt("first"))
    await engine.until("changed", t.path)
    engine.calls.clear()
    # Handle the queued MODIFY/CLOSE_WRITE events of three appends as one batch.
    asyncio.get_running_loop().remove_reader(tree.inotify.fd)
    for text in ("a", "b", "c"):
        t.write(t.prompt(text))
    await asyncio.sleep(0.05)
    tree.handle(tree.inotify.read(), 0.0)
    assert engine.calls == [("changed", t.path)]
    # A lone close after everything was read costs a stat, not a read.
    engine.calls.clear()
    wd = next(wd for wd, path in tree._paths.items() if path == str(t.path.parent))
    tree.handle([(wd, inotify_mod.IN_CLOSE_WRITE, t.path.name.encode())], 0.0)
    assert engine.calls == []
    asyncio.get_running_loop().add_reader(tree.inotify.fd, tree._on_readable)


async def test_overflow_rescans_and_sweeps(watched: tuple[RecordingEngine, TreeWatcher, Path]) -> None:
    engine, tree, projects = watched
    # max_queued_events is not settable unprivileged, so the overflow is simulated: a
    # file written with the watcher blind, then the kernel's overflow event.
    asyncio.get_running_loop().remove_reader(tree.inotify.fd)
    missed = ClaudeTranscript(projects, cwd="/home/u/unseen")
    missed.write(missed.prompt("written during the overflow"))
    tree.inotify.read()  # the lost events
    tree.handle([(-1, inotify_mod.IN_Q_OVERFLOW, b"")], 0.0)
    assert tree.overflows == 1
    assert missed.session_id in engine.sessions
    assert str(missed.path.parent) in tree._wds
    asyncio.get_running_loop().add_reader(tree.inotify.fd, tree._on_readable)


async def test_root_created_after_start(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.start()
    task = asyncio.create_task(inotify_loop(engine, WatchStatus(), root_poll_s=0.05))
    try:
        await asyncio.sleep(0.1)
        t = ClaudeTranscript(tmp_path / "claude" / "projects")
        t.write(t.prompt("a root that did not exist"))
        async with asyncio.timeout(5):
            while t.session_id not in engine.sessions:
                await asyncio.sleep(0.01)
        t.write(t.reply("done"))
        async with asyncio.timeout(5):
            while engine.sessions[t.session_id].status != "waiting_for_input":
                await asyncio.sleep(0.01)
        # The root goes away and comes back: followed again.
        shutil.rmtree(tmp_path / "claude" / "projects")
        async with asyncio.timeout(5):
            while t.session_id in engine.sessions:
                await asyncio.sleep(0.01)
        again = ClaudeTranscript(tmp_path / "claude" / "projects")
        again.write(again.prompt("back"))
        async with asyncio.timeout(5):
            while again.session_id not in engine.sessions:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine.close()


async def test_watch_limit_falls_back_to_watchfiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = tmp_path / "claude" / "projects"
    projects.mkdir(parents=True)
    engine = make_engine(tmp_path)
    engine.start()

    def no_watches(self: inotify_mod.Inotify, path: str, mask: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", path)

    fallback: list[bool] = []

    async def fake_watchfiles(engine: Engine, *, step_ms: int, debounce_ms: int,
                              force_polling: bool = False) -> None:
        fallback.append(force_polling)

    monkeypatch.setattr(inotify_mod.Inotify, "add_watch", no_watches)
    monkeypatch.setattr(watcher, "watchfiles_loop", fake_watchfiles)
    await asyncio.wait_for(watcher.watch_loop(engine, WatchStatus(), step_ms=5, debounce_ms=50), 5)
    assert fallback == [True]  # watchfiles' inotify would hit the same limit: it polls
    engine.close()


def test_backend_choice() -> None:
    assert watcher.choose_backend("auto", "linux") == "inotify"
    assert watcher.choose_backend("auto", "darwin") == "watchfiles"
    assert watcher.choose_backend("inotify", "win32") == "watchfiles"
    assert watcher.choose_backend("watchfiles", "linux") == "watchfiles"


def test_backend_setting(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[daemon]\nwatch_backend = "watchfiles"\n')
    env = {"SESSIOND_CONFIG": str(config_file), "SESSIOND_STATE_DIR": str(tmp_path)}
    assert Config.from_env(env).watch_backend == "watchfiles"
    config_file.write_text('[daemon]\nwatch_backend = "kqueue"\n')
    with pytest.raises(ConfigError):
        Config.from_env(env)
    config_file.write_text("")
    assert Config.from_env(env).watch_backend == "auto"


def test_unavailable_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inotify_mod.sys, "platform", "darwin")
    with pytest.raises(InotifyUnavailable):
        inotify_mod.Inotify()


async def test_sweep_is_relaxed_while_inotify_follows(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    status = WatchStatus()
    assert watcher.sweep_interval(status) == watcher.SWEEP_EVERY_S["watchfiles"]
    task = asyncio.create_task(inotify_loop(engine, status, root_poll_s=0.05))
    async with asyncio.timeout(5):
        while status.backend != "inotify":
            await asyncio.sleep(0.01)
    assert watcher.sweep_interval(status) == watcher.SWEEP_EVERY_S["inotify"]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert status.backend is None
    assert watcher.sweep_interval(status) == watcher.SWEEP_EVERY_S["watchfiles"]


async def test_a_symlinked_root_is_followed_but_no_symlink_below_it(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "projects"
    real.mkdir(parents=True)
    (tmp_path / "claude").mkdir()
    (tmp_path / "claude" / "projects").symlink_to(real)  # the root itself is a symlink
    outside = tmp_path / "outside" / "-home-u-x"
    outside.mkdir(parents=True)
    engine = make_engine(tmp_path)
    engine.start()
    tree = TreeWatcher(engine, asyncio.get_running_loop())
    try:
        projects = tmp_path / "claude" / "projects"
        tree.watch_tree(projects, root=True)
        (projects / "-home-u-x").symlink_to(outside)  # a symlink below the root
        t = ClaudeTranscript(projects)
        t.write(t.prompt("through the symlinked root"))
        await engine.until("changed", t.path)
        assert t.session_id in engine.sessions
        sneaky = outside / "s-outside.jsonl"
        sneaky.write_text("{}\n")
        await asyncio.sleep(0.2)
        assert str(projects / "-home-u-x") not in tree._wds  # the symlink is not watched
        assert all("s-outside" not in str(path) for _, path in engine.calls)
    finally:
        tree.close()
        engine.close()
