"""`sessiond inspect` as a user runs it: every corpus file, every agent, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sessiond", "inspect", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini", "cursor"])
def test_every_corpus_file_is_classified_with_a_reason(corpus_dir: Path, agent: str) -> None:
    files = sorted(p for p in (corpus_dir / agent).glob("*") if p.is_file())
    assert files, f"no {agent} file in the corpus"
    for path in files:
        result = run_inspect(str(path), "--json")
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        # Found by the registry's order (Claude's rules are tried first): the right agent.
        assert out["agent"] == agent, path.name
        assert out["status"] in {"working", "waiting_for_approval", "waiting_for_input", "idle", "ended"}
        assert out["reason"]
        assert set(out) == {"agent", "session_id", "status", "reason", "since", "pending_tool"}


def test_now_option_and_plain_output(corpus_dir: Path) -> None:
    # short.jsonl ends on a local command's output (L15): ten seconds later it waits for
    # input; sixteen minutes later it is idle.
    path = corpus_dir / "claude" / "marot__spotter__short.jsonl"
    last = max(json.loads(line)["timestamp"] for line in path.read_text().splitlines()
               if line.strip() and "timestamp" in json.loads(line))
    soon = run_inspect(str(path), "--now", _plus(last, 10))
    assert soon.returncode == 0, soon.stderr
    assert "status:  waiting_for_input" in soon.stdout and "reason:  line 15:" in soon.stdout
    later = run_inspect(str(path), "--now", _plus(last, 16 * 60), "--json")
    assert json.loads(later.stdout)["status"] == "idle"


def _plus(iso: str, seconds: float) -> str:
    from datetime import datetime, timedelta

    when = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return when.isoformat().replace("+00:00", "Z")


def test_unrecognised_and_unreadable_files_exit_2_with_one_sentence(tmp_path: Path) -> None:
    junk = tmp_path / "notes.jsonl"
    junk.write_text('{"hello": "world"}\nplain text\n')
    for args in ([str(junk)], [str(tmp_path / "missing.jsonl")], [str(tmp_path)]):
        result = run_inspect(*args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sessiond: "), result.stderr
    bad_now = run_inspect(str(junk), "--now", "yesterday")
    assert bad_now.returncode == 2
