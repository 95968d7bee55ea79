"""Cursor agent classifier: synthetic records for each rule, then the real corpus.

Corpus: ../shared/corpus/cursor/MarcAltabella__Cala-OpenAI__0-full.jsonl (Entire
checkpoint of a Cursor agent transcript, Aug 2026; no timestamps in the format).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sessiond.inspection as inspect_mod
from sessiond.inspection import feed_file, inspect_file
from sessiond.protocol import JSONDict
from sessiond.sources import plugins
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.codex.transcript import CodexSource
from sessiond.sources.cursor.transcript import CursorSource, CursorState
from sessiond.sources.gemini.transcript import GeminiSource

from tests.replay_agents import at_line, foreign_records, replay, statuses, timed_records, transitions

T0 = datetime(2026, 8, 29, 11, 20, tzinfo=UTC)
LIMITS = Thresholds()
# The source as the daemon builds it, from the registry (Claude's rules come first there:
# tests/test_cli_inspect.py checks each corpus file is still told apart by them).
SRC = plugins()["cursor"].source()
assert isinstance(SRC, CursorSource)
INFO = FileInfo("cursor", "3f1c")
ENC = "Users-mauro-personal-project-cala-openai"
MARC = "cursor/MarcAltabella__Cala-OpenAI__0-full.jsonl"


def sec(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def user(text: str) -> JSONDict:
    stamp = "<timestamp>Saturday, Aug 29, 2026, 1:20 PM (UTC+2)</timestamp>"
    wrapped = f"{stamp}\n<user_query>\n{text}\n</user_query>"
    return {"role": "user", "message": {"content": [{"type": "text", "text": wrapped}]}}


def assistant(text: str = "", *tools: tuple[str, dict[str, Any]]) -> JSONDict:
    blocks: list[JSONDict] = [{"type": "text", "text": text}] if text else []
    blocks += [{"type": "tool_use", "name": n, "input": i} for n, i in tools]
    return {"role": "assistant", "message": {"content": blocks}}


ENDED: JSONDict = {"type": "turn_ended", "status": "success"}
ABORTED: JSONDict = {"type": "turn_ended", "status": "error", "error": "User aborted request"}


def feed(records: list[JSONDict], state: CursorState | None = None) -> CursorState:
    state = state or SRC.new_state(INFO)
    for n, record in enumerate(records, start=1):
        state.feed(record, n, sec(n))
    return state


def test_user_line_is_working_with_the_query_as_title() -> None:
    state = feed([user("fix the  build")])
    v = state.verdict(sec(100), LIMITS)
    assert (v.status, v.reason, v.since) == ("working", "line 1: user prompt", sec(1))
    assert state.meta.title == "fix the build"
    assert state.has_basis()


def test_assistant_without_turn_ended_is_working_with_its_tool() -> None:
    state = feed([user("x"), assistant("Checking.", ("Shell", {"command": "git status"}))])
    v = state.verdict(sec(100), LIMITS)
    assert v.status == "working" and v.reason == "line 2: assistant called Shell"
    assert v.pending_tool is not None and v.pending_tool.summary == "git status"
    v = feed([user("x"), assistant("Just text.")]).verdict(sec(100), LIMITS)
    assert v.status == "working" and v.pending_tool is None


def test_turn_ended_success_is_waiting_for_input() -> None:
    v = feed([user("x"), assistant("Done."), ENDED]).verdict(sec(4), LIMITS)
    assert (v.status, v.reason, v.since) == ("waiting_for_input", "line 3: turn ended (success)", sec(3))


def test_user_aborted_is_an_interrupt() -> None:
    v = feed([user("x"), assistant("", ("Shell", {"command": "sleep 9"})), ABORTED]).verdict(sec(4), LIMITS)
    assert v.status == "waiting_for_input"
    assert v.reason.startswith("line 3: turn ended: interrupted by the user")


def test_other_errors_end_the_turn() -> None:
    record = {"type": "turn_ended", "status": "error", "error": "Model overloaded"}
    v = feed([user("x"), record]).verdict(sec(3), LIMITS)
    assert v.status == "waiting_for_input" and "Model overloaded" in v.reason


def test_no_record_time_and_idle_from_arrival_times() -> None:
    assert SRC.record_time(user("x")) is None and SRC.record_time(ENDED) is None
    state = feed([user("x"), ENDED])
    assert classify(state, sec(2) + LIMITS.idle_after, LIMITS).status == "idle"
    state = feed([user("x")])
    assert classify(state, sec(1) + LIMITS.stale_after, LIMITS).status == "idle"


def test_cwd_from_a_tool_path_matching_the_folder_name() -> None:
    root = Path("/h/.cursor/projects")
    src = CursorSource()
    info = src.identify(root / ENC / "agent-transcripts" / "3f1c" / "3f1c.jsonl", root)
    assert info is not None
    state = src.new_state(info)
    assert state.meta.project == ENC  # until a path says better
    feed([user("x"), assistant("", ("Read", {"path": "/Users/mauro/.cursor/projects/x/1.txt"}))], state)
    assert state.meta.cwd == ""
    feed([assistant("", ("Read", {"path": "/Users/mauro/personal_project/cala-openai/a/SKILL.md"}))], state)
    cwd = "/Users/mauro/personal_project/cala-openai"
    assert (state.meta.cwd, state.meta.project) == (cwd, "cala-openai")


def test_garbage_never_raises() -> None:
    records: list[JSONDict] = [
        {}, {"role": "user"}, {"role": "user", "message": "x"}, {"role": "user", "message": {"content": 5}},
        {"role": "assistant", "message": {"content": [None, 3, {"type": "tool_use"}]}},
        {"role": "assistant", "message": {"content": [{"type": "tool_use", "name": 5, "input": [1]}]}},
        {"role": "user", "message": {"content": "plain string"}},
        {"type": "turn_ended"}, {"type": "turn_ended", "status": "error", "error": None},
        {"type": "something_new", "data": {}},
    ]
    state = feed(records)
    for now in (sec(0), sec(10_000)):
        classify(state, now, LIMITS)
    empty = SRC.new_state(INFO)
    assert not empty.has_basis() and empty.verdict(sec(0), LIMITS).status == "waiting_for_input"


def test_recognises_only_cursor_records() -> None:
    assert SRC.recognises(user("x")) and SRC.recognises(assistant("y")) and SRC.recognises(ABORTED)
    claude = {"type": "user", "uuid": "u", "message": {"role": "user", "content": "hi"}}
    assert not SRC.recognises(claude)
    assert not SRC.recognises({"type": "assistant", "message": {"role": "assistant", "content": []}})
    assert not SRC.recognises({"timestamp": "t", "type": "event_msg", "payload": {}})
    assert not SRC.recognises({"id": "m", "type": "user", "content": "hi"})
    assert not CodexSource().recognises(user("x")) and not GeminiSource().recognises(user("x"))
    assert not GeminiSource().recognises(ENDED) and not CodexSource().recognises(ENDED)


def test_identify_paths() -> None:
    root = Path("/h/.cursor/projects")
    t = root / ENC / "agent-transcripts"
    assert SRC.identify(t / "abc" / "abc.jsonl", root) == FileInfo("cursor", "abc")
    assert SRC.identify(t / "abc.jsonl", root) == FileInfo("cursor", "abc")
    assert SRC.identify(t / "abc" / "subagents" / "def.jsonl", root) == FileInfo(
        "cursor", "def", role="subagent", parent_id="abc"
    )
    assert SRC.identify(t / "abc" / "other.jsonl", root) is None
    assert SRC.identify(t / "abc.txt", root) is None
    assert SRC.identify(root / ENC / "terminals" / "1.jsonl", root) is None
    assert SRC.roots({"CURSOR_HOME": "/c"}, Path("/h")) == [Path("/c/projects")]
    assert SRC.roots({}, Path("/h")) == [Path("/h/.cursor/projects")]


# -- corpus -------------------------------------------------------------------------


@pytest.fixture
def my_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspect_mod, "all_sources", lambda: [CodexSource(), GeminiSource(), CursorSource()])


@pytest.mark.usefixtures("my_sources")
def test_corpus_end_state(corpus_dir: Path) -> None:
    # L17 `{"role":"user",…"<user_query>\ngit fetch origin\n</user_query>"}` is the last
    # line and no turn_ended follows: the agent is working on it. No timestamps: offline
    # every line is taken to be written at the file's mtime.
    path = corpus_dir / MARC
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    result = inspect_file(path, now=mtime + timedelta(seconds=10))
    assert (result.agent, result.status, result.reason) == ("cursor", "working", "line 17: user prompt")
    assert result.since == mtime


@pytest.mark.usefixtures("my_sources")
def test_corpus_in_place_under_cursor_home(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURSOR_HOME", str(tmp_path))
    folder = tmp_path / "projects" / ENC / "agent-transcripts" / "7d2e"
    folder.mkdir(parents=True)
    shutil.copy(corpus_dir / MARC, folder / "7d2e.jsonl")
    stamp = datetime(2026, 8, 29, 11, 33, tzinfo=UTC).timestamp()
    os.utime(folder / "7d2e.jsonl", (stamp, stamp))
    result = inspect_file(folder / "7d2e.jsonl", now=datetime(2026, 8, 29, 11, 34, tzinfo=UTC))
    assert (result.agent, result.session_id, result.status) == ("cursor", "7d2e", "working")


def test_corpus_meta(corpus_dir: Path) -> None:
    src = CursorSource()
    root = Path("/h/.cursor/projects")
    info = src.identify(root / ENC / "agent-transcripts" / "7d2e" / "7d2e.jsonl", root)
    assert info is not None
    m = feed_file(src, info, corpus_dir / MARC).meta
    # L1 `<user_query>\nwhat @/Users/mauro/.cursor/…/terminals/1.txt:23 is happening…`
    assert m.title.startswith("what @/Users/mauro/.cursor/projects/")
    # L2 Read `/Users/mauro/personal_project/cala-openai/.agents/skills/software/SKILL.md`
    assert (m.cwd, m.project) == ("/Users/mauro/personal_project/cala-openai", "cala-openai")


def test_replay_marc(corpus_dir: Path) -> None:
    # No timestamps: the replay clock gives each line one virtual second.
    steps = replay(SRC, INFO, timed_records(SRC, corpus_dir / MARC, T0))
    assert list(transitions(steps)) == [
        (5, "working", "waiting_for_input"),  # L5 turn_ended success
        (6, "waiting_for_input", "working"),
        (8, "working", "waiting_for_input"),  # L8 turn_ended error "User aborted request"
        (9, "waiting_for_input", "working"),
        (11, "working", "waiting_for_input"),  # L11 turn_ended success
        (12, "waiting_for_input", "working"),
        (15, "working", "waiting_for_input"),  # L15 turn_ended success
        (17, "waiting_for_input", "working"),  # L17 new prompt, nothing after it
    ]
    assert "interrupted" in at_line(steps, 8).reason
    # L16, a second turn_ended (User aborted request) right after L15's success.
    assert at_line(steps, 16).reason.startswith("line 16: turn ended: interrupted")
    assert statuses(steps)[-1] == "working"
    assert at_line(steps, 4).status == "working"  # L2-L4 assistant lines, no turn_ended yet


def test_no_other_agents_record_is_recognised(corpus_dir: Path) -> None:
    # Claude, and the other agents here: a stray file must not pass for cursor.
    wrong = [name for name, record in foreign_records(corpus_dir, "cursor") if SRC.recognises(record)]
    assert not wrong
