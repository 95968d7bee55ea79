"""Gemini CLI classifier: synthetic records for each rule, then the real corpus.

Corpus: ../shared/corpus/gemini. `Pengui0__cli__0-full.jsonl` is a JSONL chat (Pengui0/cli
checkpoint branch, Gemini CLI 0.5x); the `entireio__cli__*` files are legacy whole
`session-*.json` documents (Gemini CLI 0.23), stored by Entire under a `.jsonl` name.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sessiond.inspection as inspect_mod
from sessiond.inspection import InspectError, feed_file, inspect_file
from sessiond.protocol import JSONDict
from sessiond.sources import plugins
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.codex.transcript import CodexSource
from sessiond.sources.cursor.transcript import CursorSource
from sessiond.sources.gemini.transcript import GeminiSource, GeminiState

from tests.replay_agents import Timed, at_line, foreign_records, replay, statuses, timed_records, transitions

T0 = datetime(2026, 9, 6, 6, 0, 0, tzinfo=UTC)
# Explicit, so the tests do not depend on the default settle time.
LIMITS = Thresholds(settle_after=timedelta(seconds=2))
# The source as the daemon builds it, from the registry (Claude's rules come first there:
# tests/test_cli_inspect.py checks each corpus file is still told apart by them).
SRC = plugins()["gemini"].source()
assert isinstance(SRC, GeminiSource)
INFO = FileInfo("gemini", "1795e8c7")
DOC_INFO = FileInfo("gemini", "f7633853", whole_document=True)
PENGUI = "gemini/Pengui0__cli__0-full.jsonl"
LEGACY = {k: f"gemini/entireio__cli__{k}-0-full.jsonl" for k in
          ("12-cbfeaa512b", "51-3fab7adf0b", "9c-53780d06b7", "ab-2b9748b105", "c9-45f262e88d")}
LEGACY["ec-38b74f08e3"] = "gemini/entireio__cli__ec-38b74f08e3-2-full.jsonl"


def sec(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def ts(n: float) -> str:
    return sec(n).isoformat().replace("+00:00", "Z")


def msg(mid: str, mtype: str, content: Any, at: float, **more: Any) -> JSONDict:
    return {"id": mid, "timestamp": ts(at), "type": mtype, "content": content, **more}


def tool(cid: str, name: str, status: str = "success", at: float = 0, **args: Any) -> JSONDict:
    return {"id": cid, "name": name, "args": args, "status": status, "timestamp": ts(at)}


def response(cid: str, name: str, at: float) -> JSONDict:
    part = {"functionResponse": {"id": cid, "name": name, "response": {"output": "ok"}}}
    return msg(f"r-{cid}", "user", [part], at)


META = {"sessionId": "1795e8c7-9c9d", "projectHash": "ab" * 32, "startTime": ts(0),
        "lastUpdated": ts(0), "kind": "main"}


def feed(records: list[JSONDict], info: FileInfo = INFO) -> GeminiState:
    state = SRC.new_state(info)
    last = T0
    for n, record in enumerate(records, start=1):
        last = SRC.record_time(record) or last
        state.feed(record, n, last)
    return state


def prompt(text: str = "add a palindrome check", at: float = 1) -> JSONDict:
    return msg("u1", "user", [{"text": text}], at)


# -- rules --------------------------------------------------------------------------


def test_user_prompt_is_working() -> None:
    state = feed([META, prompt(), {"$set": {"lastUpdated": ts(1)}}])
    v = state.verdict(sec(100), LIMITS)
    assert (v.status, v.since) == ("working", sec(1))
    assert v.reason == "line 2: user prompt"
    assert state.meta.title == "add a palindrome check"


def test_empty_gemini_record_is_working_without_an_approval_guess() -> None:
    # Tools asked for, not finished: running or awaiting approval, indistinguishable.
    state = feed([META, prompt(), msg("g1", "gemini", "", 5, thoughts=[{"subject": "x"}])])
    for limits in (LIMITS, Thresholds(infer_approval=False)):
        v = state.verdict(sec(500), limits)
        assert (v.status, v.since) == ("working", sec(5))
        assert v.reason.startswith("line 3: model called tools")
        assert v.recheck_at is None


def test_same_id_rewritten_with_tool_calls_then_function_response() -> None:
    records = [META, prompt(), msg("g1", "gemini", "", 5),
               msg("g1", "gemini", "", 5, toolCalls=[tool("c1", "read_file", at=9)]),
               response("c1", "read_file", 10)]
    state = feed(records[:4])
    v = state.verdict(sec(60), LIMITS)
    assert v.status == "working" and "read_file finished" in v.reason
    assert v.reason.startswith("line 4")
    assert list(state._messages) == ["u1", "g1"]  # last one wins, position kept
    state.feed(records[4], 5, sec(10))
    assert state.verdict(sec(60), LIMITS).reason == "line 5: tool results sent to the model"


def test_text_reply_settles_into_waiting_for_input() -> None:
    state = feed([META, prompt(), msg("g1", "gemini", "Done.", 20),
                  {"$set": {"lastUpdated": ts(20.001)}}])
    early = state.verdict(sec(21), LIMITS)
    assert early.status == "working"
    assert early.recheck_at == sec(20.001) + LIMITS.settle_after
    late = state.verdict(sec(22.001), LIMITS)
    assert (late.status, late.since) == ("waiting_for_input", sec(20))
    assert late.reason == "line 3: reply with no tool calls"


def test_text_with_completed_tool_calls_is_still_working() -> None:
    # The model's text comes before its calls; finished calls go back to the model.
    calls = [tool("c1", "write_file", "success", 7), tool("c2", "run_shell_command", "error", 7)]
    state = feed([META, prompt(), msg("g1", "gemini", "I will write it.", 5, toolCalls=calls)])
    v = state.verdict(sec(600), LIMITS)
    assert v.status == "working" and "results go back to the model" in v.reason


def test_cancelled_tool_call_is_an_interrupt() -> None:
    calls = [tool("c1", "run_shell_command", "cancelled", 7, command="npm test")]
    state = feed([META, prompt(), msg("g1", "gemini", "", 5, toolCalls=calls)])
    v = state.verdict(sec(8), LIMITS)
    assert v.status == "waiting_for_input"
    assert v.reason.startswith("line 3: run_shell_command cancelled: interrupted")
    # ... also when the cancelled results are recorded as a functionResponse after it.
    state.feed(response("c1", "run_shell_command", 8), 4, sec(8))
    assert state.verdict(sec(9), LIMITS).status == "waiting_for_input"


def test_please_continue_is_working_and_not_a_title() -> None:
    state = feed([META, msg("u0", "user", "System: Please continue.", 1)])
    v = state.verdict(sec(100), LIMITS)
    assert v.status == "working" and "auto-continue" in v.reason
    assert state.meta.title == ""


def test_error_record_ends_the_turn() -> None:
    state = feed([META, prompt(), msg("e1", "error", "[API Error: quota exceeded]", 4)])
    v = state.verdict(sec(5), LIMITS)
    assert v.status == "waiting_for_input" and "quota" in v.reason


def test_info_and_warning_records_are_skipped() -> None:
    state = feed([META, prompt(), msg("i1", "info", "Gemini CLI update available!", 2),
                  msg("w1", "warning", "Hook(s) [x] failed for event SessionStart.", 3)])
    assert state.verdict(sec(60), LIMITS).reason == "line 2: user prompt"


def test_session_end_hook_warning_means_ended() -> None:
    # ec-38b74f08e3: the only record is this warning.
    text = "Hook(s) [entire-session-end-exit] failed for event SessionEnd. Press F12…\n"
    state = feed([META, prompt(), msg("g1", "gemini", "Bye", 2), msg("w1", "warning", text, 9)])
    v = state.verdict(sec(10), LIMITS)
    assert (v.status, v.since) == ("ended", sec(9))
    # A new prompt in the same file after it: alive again.
    state.feed(msg("u2", "user", "again", 20), 5, sec(20))
    assert state.verdict(sec(21), LIMITS).status == "working"


def test_in_flight_statuses_if_a_build_ever_writes_them() -> None:
    asking = [tool("c1", "run_shell_command", "awaiting_approval", 5, command="rm -rf x")]
    v = feed([META, prompt(), msg("g1", "gemini", "", 5, toolCalls=asking)]).verdict(
        sec(6), LIMITS
    )
    assert v.status == "waiting_for_approval"
    assert v.pending_tool is not None and v.pending_tool.summary == "run_shell_command: rm -rf x"
    running = [tool("c1", "run_shell_command", "executing", 5, command="make")]
    v = feed([META, prompt(), msg("g1", "gemini", "", 5, toolCalls=running)]).verdict(
        sec(6), LIMITS
    )
    assert v.status == "working" and v.pending_tool is not None


def test_rewind_truncates_from_the_target() -> None:
    records = [META, prompt("first", 1), msg("g1", "gemini", "reply", 2),
               msg("u2", "user", [{"text": "second"}], 3), msg("g2", "gemini", "", 4),
               {"$rewindTo": "u2"}]
    state = feed(records)
    assert list(state._messages) == ["u1", "g1"]
    v = state.verdict(sec(30), LIMITS)
    assert v.status == "waiting_for_input" and v.reason.startswith("line 6: conversation rewound")
    # The next prompt goes on from there.
    state.feed(msg("u3", "user", [{"text": "third"}], 40), 7, sec(40))
    assert state.verdict(sec(41), LIMITS).reason == "line 7: user prompt"
    # An unknown target clears everything (as gemini-cli's own loader does).
    state.feed({"$rewindTo": "nope"}, 8, sec(50))
    assert not state._messages and state.verdict(sec(51), LIMITS).status == "waiting_for_input"


def test_set_messages_replaces_the_list_and_context_gives_the_cwd() -> None:
    context = ("<session_context>\nThis is the Gemini CLI.\n- **Workspace Directories:**\n"
               "  - C:\\Users\\Lenovo\\cli\n- **Directory Structure:**\n")
    state = feed([META, {"$set": {"messages": [msg("ctx", "user", [{"text": context}], 0)]}}])
    assert state.meta.cwd == "C:\\Users\\Lenovo\\cli" and state.meta.project == "cli"
    assert state.meta.title == ""  # injected context is not a prompt
    assert state.verdict(sec(1), LIMITS).reason == "no prompt yet"
    assert not state.has_basis()
    # Recorded directories are the real thing; the context text was only a fallback.
    state.feed({"$set": {"directories": ["/home/u/app"]}}, 3, sec(2))
    assert (state.meta.cwd, state.meta.project) == ("/home/u/app", "app")

def test_directories_in_metadata() -> None:
    state = feed([{**META, "kind": "subagent", "directories": ["/home/u/my-app"]}])
    assert (state.meta.cwd, state.meta.project) == ("/home/u/my-app", "my-app")
    assert state.meta.session_id == "1795e8c7-9c9d"


def test_messages_are_bounded() -> None:
    records = [META] + [msg(f"m{i}", "user", f"p{i}", i) for i in range(2000)]
    state = feed(records)
    assert len(state._messages) <= 256
    assert state.verdict(sec(3000), LIMITS).reason == "line 2001: user prompt"


# -- legacy whole documents ---------------------------------------------------------


def doc(messages: Any, updated: float = 30, **more: Any) -> JSONDict:
    return {"sessionId": "f7633853", "projectHash": "7e" * 32, "startTime": ts(0),
            "lastUpdated": ts(updated), "messages": messages, **more}


def test_whole_document_replaces_the_state() -> None:
    state = SRC.new_state(DOC_INFO)
    state.feed(doc([prompt("one", 1), msg("g1", "gemini", "", 5)], 5), 1, sec(5))
    assert state.verdict(sec(60), LIMITS).status == "working"
    state.feed(doc([prompt("one", 1), msg("g1", "gemini", "Done", 9)], 9), 1, sec(9))
    v = state.verdict(sec(12), LIMITS)
    assert (v.status, v.reason) == ("waiting_for_input", "message 2: reply with no tool calls")
    assert state.has_basis()


@pytest.mark.parametrize(
    "broken",
    [
        {"sessionId": "x", "projectHash": "y", "startTime": ts(0)},  # no messages at all
        doc("garbage"),
        doc(None),
        doc([1, "x", None, [], {"id": 5}, {"type": "gemini"},
             {"id": "a", "type": "gemini", "toolCalls": "bad", "content": {"weird": 1}},
             {"id": "b", "type": "user", "content": [None, {"functionResponse": "x"}]},
             {"id": "c", "type": 7, "content": None, "timestamp": "not a time"},
             {"id": "d", "type": "gemini", "content": [{"text": 3}],
              "toolCalls": [None, {"status": 5, "args": "x", "timestamp": 9}]}]),
        {"sessionId": 5, "messages": {"id": "a"}},
    ],
)
def test_truncated_or_garbage_documents_do_not_break_the_state(broken: JSONDict) -> None:
    state = SRC.new_state(DOC_INFO)
    state.feed(broken, 1, SRC.record_time(broken) or sec(0))
    for now in (sec(0), sec(100), sec(10_000)):
        classify(state, now, LIMITS)
    state.has_basis()
    # A good document afterwards is read normally.
    state.feed(doc([prompt()], 1), 1, sec(1))
    assert state.verdict(sec(2), LIMITS).reason == "message 1: user prompt"


def test_garbage_jsonl_records_never_raise() -> None:
    records: list[JSONDict] = [
        {}, {"$set": None}, {"$set": {"messages": "x", "directories": [None]}},
        {"$rewindTo": 5}, {"id": None}, {"id": "x"}, {"id": "y", "type": "gemini"},
        {"id": "z", "type": "user", "content": {"text": "dict content"}},
        {"sessionId": None}, {"unknown": True},
    ]
    state = feed(records)
    for now in (sec(0), sec(10_000)):
        classify(state, now, LIMITS)


def test_recognises_only_gemini_records() -> None:
    assert SRC.recognises(META)
    assert SRC.recognises({"$set": {"lastUpdated": ts(0)}})
    assert SRC.recognises({"$rewindTo": "m1"})
    assert SRC.recognises(prompt())
    assert SRC.recognises(doc([]))
    claude = {"type": "user", "uuid": "u", "timestamp": ts(0),
              "message": {"role": "user", "content": "hi"}}
    assert not SRC.recognises(claude)
    assert not SRC.recognises({"timestamp": ts(0), "type": "event_msg", "payload": {}})
    assert not SRC.recognises({"role": "user", "message": {"content": []}})
    assert not CodexSource().recognises(prompt()) and not CursorSource().recognises(prompt())


def test_record_time_takes_the_latest_tool_timestamp() -> None:
    # Pengui0 L9: the rewritten record keeps 06:21:15.399, its tools finished 06:21:20.084.
    record = msg("g1", "gemini", "", 5, toolCalls=[tool("c", "read_file", at=9)])
    assert SRC.record_time(record) == sec(9)
    assert SRC.record_time({"$set": {"lastUpdated": ts(3)}}) == sec(3)
    assert SRC.record_time({"$rewindTo": "x"}) is None
    assert SRC.record_time(doc([], 7)) == sec(7)


def test_identify_paths(tmp_path: Path) -> None:
    root = tmp_path / ".gemini" / "tmp"
    src = GeminiSource()
    main = root / "cli" / "chats" / "session-2026-09-06T06-20-1795e8c7.jsonl"
    info = src.identify(main, root)
    assert info == FileInfo("gemini", "1795e8c7")
    assert src.new_state(info).meta.project == "cli"  # slug project id
    legacy = root / ("7e" * 32) / "chats" / "session-2026-01-15T20-51-f7633853.json"
    linfo = src.identify(legacy, root)
    assert linfo is not None and linfo.whole_document
    assert src.new_state(linfo).meta.project == ""  # a sha256 says nothing
    assert linfo.session_id == "f7633853"
    sub = root / "cli" / "chats" / "1795e8c7-9c9d-4f6b-80d0-15d72bdd42c8" / "abcd-sub.jsonl"
    # The parent is named the way its own file names it: the first 8 characters.
    assert src.identify(sub, root) == FileInfo(
        "gemini", "abcd-sub", role="subagent", parent_id="1795e8c7"
    )
    assert src.identify(root / "cli" / "logs.json", root) is None
    assert src.identify(root / "cli" / "chats" / "notes.jsonl", root) is None
    assert src.identify(root / "cli" / "checkpoint-x.json", root) is None
    assert src.roots({"GEMINI_CLI_HOME": "/g"}, Path("/h")) == [Path("/g/.gemini/tmp")]
    assert src.roots({}, Path("/h")) == [Path("/h/.gemini/tmp")]


# -- corpus -------------------------------------------------------------------------


@pytest.fixture
def my_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        inspect_mod, "all_sources", lambda: [CodexSource(), GeminiSource(), CursorSource()]
    )


def _as_json(corpus_dir: Path, name: str, tmp_path: Path) -> Path:
    """The legacy documents under the name Gemini gave them (`session-*.json`)."""
    target = tmp_path / (Path(name).stem + ".json")
    shutil.copy(corpus_dir / name, target)
    return target


def _doc_time(path: Path) -> datetime:
    stamp = SRC.record_time(json.loads(path.read_text()))
    assert stamp is not None
    return stamp


# End state of every Gemini corpus file, as of its last timestamp + 10 s.
LEGACY_END = [
    # message 6 `"type":"gemini","content":"I have added the text \",how are you\" to
    # `test-gemini.txt`."` with no toolCalls: the turn ended.
    ("12-cbfeaa512b", "waiting_for_input", "message 6: reply with no tool calls"),
    # message 4 `"I've completed the previous request. What would you like to do next?"`
    # after message 3 `"System: Please continue."`.
    ("51-3fab7adf0b", "waiting_for_input", "message 4: reply with no tool calls"),
    # message 8 `"Removed `docs/blue.md`. Now, I'll read `docs/color.md`…"`, no toolCalls.
    # A false end: ab-2b9748b105 shows the same id gaining read_file 180 ms later.
    ("9c-53780d06b7", "waiting_for_input", "message 8: reply with no tool calls"),
    # message 13 `"Staged `docs/color.md`. Verifying git status."`, no toolCalls (Entire
    # copied the file at commit time; the wording suggests more calls were coming).
    ("ab-2b9748b105", "waiting_for_input", "message 13: reply with no tool calls"),
    # message 3 `"I have successfully created `docs/blue.md`…"`, no toolCalls; 9c shows it
    # gaining run_shell_command: another false end only a hook could correct.
    ("c9-45f262e88d", "waiting_for_input", "message 3: reply with no tool calls"),
    # message 1 `"Hook(s) [entire-session-end-exit] failed for event SessionEnd…"`.
    ("ec-38b74f08e3", "ended", "message 1: the CLI ran its SessionEnd hooks"),
]


@pytest.mark.usefixtures("my_sources")
@pytest.mark.parametrize(("key", "status", "reason"), LEGACY_END)
def test_legacy_corpus_end_states(
    corpus_dir: Path, tmp_path: Path, key: str, status: str, reason: str
) -> None:
    path = _as_json(corpus_dir, LEGACY[key], tmp_path)
    result = inspect_file(path, now=_doc_time(path) + timedelta(seconds=10))
    assert result.agent == "gemini"
    assert (result.status, result.reason.startswith(reason)) == (status, True), result.reason


@pytest.mark.usefixtures("my_sources")
def test_pengui0_end_state(corpus_dir: Path) -> None:
    # L32 `"type":"gemini","content":"I have added the `is_palindrome` function…"` with no
    # toolCalls, then L33 `{"$set":{"lastUpdated":"2026-09-06T06:23:14.084Z"}}`.
    path = corpus_dir / PENGUI
    last = timed_records(SRC, path, T0)[-1].at
    result = inspect_file(path, now=last + timedelta(seconds=10))
    assert (result.agent, result.status) == ("gemini", "waiting_for_input")
    assert result.reason == "line 32: reply with no tool calls"
    assert result.session_id == "1795e8c7-9c9d-4f6b-80d0-15d72bdd42c8"  # L1 sessionId
    assert result.since == datetime(2026, 9, 6, 6, 23, 14, 83000, tzinfo=UTC)


@pytest.mark.usefixtures("my_sources")
def test_truncated_legacy_document_is_refused_by_the_shell(tmp_path: Path) -> None:
    path = tmp_path / "session-2026-01-15T20-51-f7633853.json"
    path.write_text('{"sessionId": "f7633853", "messages": [{"id": "a", "ty')
    with pytest.raises(InspectError):
        inspect_file(path)


def test_pengui0_meta(corpus_dir: Path) -> None:
    state = feed_file(SRC, INFO, corpus_dir / PENGUI)
    m = state.meta
    # L2 `$set.messages` <session_context> "Workspace Directories: - C:\Users\Lenovo\cli";
    # L5 is the first typed prompt.
    assert (m.cwd, m.project) == ("C:\\Users\\Lenovo\\cli", "cli")
    assert m.title.startswith("Add a second function to scratch.py")


def test_replay_pengui0(corpus_dir: Path) -> None:
    steps = replay(SRC, INFO, timed_records(SRC, corpus_dir / PENGUI, T0))
    # L1-L4: metadata, injected context, a SessionStart hook warning: no prompt yet.
    assert {s.status for s in steps if s.line_no is not None and s.line_no < 5} == {
        "waiting_for_input"
    }
    # L5 prompt ... L33: working throughout, while tools run (L7 empty record, L9 the
    # same id with toolCalls, L10 functionResponse, ...) and while L32 settles.
    working = [s for s in steps if s.line_no is not None and 5 <= s.line_no <= 33]
    assert working and all(s.status == "working" for s in working[:-1])
    # 26 s after L22 (L23 `$set` right after it) until L24 adds the finished calls.
    assert at_line(steps, 23, before_next=True).reason.startswith("line 22: model called tools")
    assert at_line(steps, 33).status == "working"
    # 10 s after L33: the L32 reply has settled.
    assert steps[-1].status == "waiting_for_input"
    assert steps[-1].reason == "line 32: reply with no tool calls"
    assert statuses(steps) == ["waiting_for_input", "working", "waiting_for_input"]
    assert [line for line, _a, _b in transitions(steps)] == [5, 33]


def test_replay_legacy_snapshots_of_one_session(corpus_dir: Path) -> None:
    """c9 -> 9c -> ab are three snapshots of session f7633853. In 9c message 8
    (61363cc0) is text with no toolCalls; in ab the same id carries read_file."""
    docs = {k: json.loads((corpus_dir / LEGACY[k]).read_text())
            for k in ("c9-45f262e88d", "9c-53780d06b7", "ab-2b9748b105")}
    nine_c, ab = docs["9c-53780d06b7"], docs["ab-2b9748b105"]
    same = [m for m in ab["messages"] if m["id"] == nine_c["messages"][-1]["id"]]
    assert same and "toolCalls" not in nine_c["messages"][-1] and same[0]["toolCalls"]
    # The document as it was when read_file finished (20:52:29.464): 9c + that rewrite.
    between = copy.deepcopy(nine_c)
    between["messages"][-1] = same[0]
    between["lastUpdated"] = same[0]["toolCalls"][0]["timestamp"]

    timeline = [docs["c9-45f262e88d"], nine_c, between, ab]
    records = [Timed(1, d, SRC.record_time(d) or T0) for d in timeline]
    steps = replay(SRC, DOC_INFO, records)
    nine_c_at = records[1].at
    first = next(s for s in steps if s.now == nine_c_at)
    assert first.status == "working" and "settling" in first.reason
    between_step = next(s for s in steps if s.now == records[2].at)
    assert between_step.status == "working"
    assert between_step.reason == "message 8: read_file finished, results go back to the model"
    assert steps[-1].status == "waiting_for_input"
    assert steps[-1].reason == "message 13: reply with no tool calls"
    # c9's reply-only message 3 settles during the 30 s gap to 9c: a false end that a
    # daemon reading every rewrite would not see (9c shows run_shell_command was added).
    # 9c -> between: working (the rewrite lands 179 ms later, before settle_after).
    assert statuses(steps) == ["working", "waiting_for_input", "working", "waiting_for_input"]


def test_no_other_agents_record_is_recognised(corpus_dir: Path) -> None:
    # Claude, and the other agents here: a stray file must not pass for gemini.
    wrong = [name for name, record in foreign_records(corpus_dir, "gemini") if SRC.recognises(record)]
    assert not wrong
