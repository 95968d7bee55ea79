"""`sessiond inspect` as a user runs it: every corpus file, every agent, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file() and p.name != "MANIFEST.json")


def run_inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sessiond", "inspect", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name[:40]}")
def test_every_corpus_file_is_classified_with_a_reason(path: Path) -> None:
    result = run_inspect(str(path), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["agent"] == path.parent.name
    assert out["status"] in {"working", "waiting_for_approval", "waiting_for_input", "idle", "ended"}
    assert out["reason"]
    assert set(out) == {"agent", "session_id", "status", "reason", "since", "pending_tool"}


def test_now_option_and_plain_output() -> None:
    # spotter subagent.jsonl L67 ExitPlanMode (2026-02-11T16:39:35Z by its timestamp)
    # is pending: seconds later, without progress, it is an approval wait.
    path = CORPUS / "claude" / "marot__spotter__agent-aac57f5.jsonl"
    result = run_inspect(str(path))
    assert result.returncode == 0
    assert "status:" in result.stdout and "reason:" in result.stdout


def test_unrecognised_and_unreadable_files_exit_2_with_one_sentence(tmp_path: Path) -> None:
    junk = tmp_path / "notes.jsonl"
    junk.write_text('{"hello": "world"}\nplain text\n')
    for args in ([str(junk)], [str(tmp_path / "missing.jsonl")], [str(tmp_path)]):
        result = run_inspect(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sessiond: "), result.stderr
    bad_now = run_inspect(str(CORPUS_FILES[0]), "--now", "yesterday")
    assert bad_now.returncode == 2
