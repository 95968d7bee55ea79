"""Shared fixtures. The agents' real transcripts live in ../shared/corpus (see its MANIFEST.json)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.panel_helpers import CHROMIUM, CHROMIUM_ARGS, Panel
from tests.sse import SSEClient
from tests.tmux_server import TmuxServer

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    """The real daemon on temporary roots (Claude's root exists), stopped afterwards."""
    proc = make_daemon(tmp_path / "d")
    proc.claude_projects.mkdir(parents=True)
    proc.start()
    yield proc
    proc.kill()


@pytest.fixture
async def events(daemon: DaemonProcess) -> AsyncIterator[SSEClient]:
    """An SSE client on the daemon, past its (empty) snapshot."""
    async with SSEClient(f"{daemon.base_url}/events", token=daemon.token) as client:
        snapshot = await client.next_of("snapshot")
        assert snapshot.data["sessions"] == []
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM} (Debian package `chromium`)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def panel_factory(browser: Browser) -> Iterator[Callable[..., Panel]]:
    panels: list[Panel] = []

    def make(daemon: DaemonProcess, *, logged_in: bool = True, **context: Any) -> Panel:
        panel = Panel(browser, daemon, logged_in=logged_in, **context)
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.close()


@pytest.fixture
def tmux() -> Iterator[TmuxServer]:
    """A tmux server of the test's own, on a private socket, killed afterwards."""
    server = TmuxServer()
    yield server
    server.kill()
