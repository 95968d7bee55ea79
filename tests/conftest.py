"""Shared fixtures. The agents' real transcripts live in ../shared/corpus (see its MANIFEST.json)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.sse import SSEClient

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
