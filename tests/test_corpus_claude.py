"""The Claude Code classifier against the real transcripts in ../shared/corpus/claude.

(a) every file goes through `sessiond inspect`'s code path; (b) end states as of a few
seconds after each file's last line; (c) replays with a virtual clock that check the
waits inside files named in agent-formats.md §1.6. Files are read in place, never copied.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sessiond.inspection import feed_file, inspect_file, iter_records
from sessiond.protocol import Status
from sessiond.sources.base import FileInfo, Thresholds
from sessiond.sources.claude.transcript import MARKED_SETTLE, ClaudeSource

from tests.replay import Probe, replay, status_before, statuses_after, transitions

LIMITS = Thresholds()
SOURCE = ClaudeSource()


def corpus_file(corpus_dir: Path, key: str) -> Path:
    matches = sorted((corpus_dir / "claude").glob(f"*{key}*.jsonl"))
    assert len(matches) == 1, f"{key} names {len(matches)} corpus files"
    return matches[0]


def last_time(path: Path) -> datetime:
    times = [SOURCE.record_time(item.record) for item in iter_records(path)]
    return max(t for t in times if t is not None)


def probes(corpus_dir: Path, key: str) -> list[Probe]:
    path = corpus_file(corpus_dir, key)
    return replay(SOURCE, FileInfo("claude", path.stem), path, LIMITS)


# -- (a) every file ------------------------------------------------------------------------


def test_every_corpus_file_inspects(corpus_dir: Path) -> None:
    # Through the fixture, not a glob at import: without the corpus this fails with one
    # sentence instead of passing with nothing to check.
    files = sorted((corpus_dir / "claude").glob("*.jsonl"))
    assert len(files) >= 20
    for path in files:
        result = inspect_file(path, now=last_time(path) + timedelta(seconds=10))
        assert result.agent == "claude", path.name
        assert result.session_id and result.reason, path.name


# -- (b) end states ---------------------------------------------------------------------------

# (file key, status at last line + 10 s, reason starts with, pending tool)
END_STATES: list[tuple[str, Status, str, str | None]] = [
    # L29 {"type":"text","text":"I've created a basic CLAUDE.md…"}, "stop_reason":"end_turn"
    ("1af7fc5e", "waiting_for_input", "line 29: reply finished (stop_reason end_turn)", None),
    # L53 a final text with "stop_reason":null (1.0.108), nothing after it
    ("5c0375b4", "waiting_for_input", "line 53: reply finished", None),
    # L50 thinking, L51 {"type":"hook_progress","hookEvent":"Stop"}: the text is not flushed yet
    ("00-c9e2351016-3", "waiting_for_input", "line 51: Stop hook ran", None),
    # L169 text, L170 {"hookEvent":"Stop"}
    ("37-995ebed6e4-2", "waiting_for_input", "line 170: Stop hook ran", None),
    # L28 tool_result "The file …/install.sh has been updated successfully.": the model is called again
    ("42-527c9c20c8", "working", "line 28: tool result", None),
    # L6 tool_use "Task" {"description":"Explore session/checkpoint creation"} (2.1.4: no progress)
    ("4c-02af2759b6", "working", "line 6: a subagent is running", "Task"),
    # L223 "permissionMode":"acceptEdits"; L230 Bash "git add … && git commit", no bash_progress
    ("4c-70d9b5734c", "waiting_for_approval",
     "line 230: Bash pending 10 s, no progress (likely: no hooks)", "Bash"),
    # L108 acceptEdits "commit"; L117 Bash "git add cmd/entire/cli/setup_test.go && git commit …"
    ("60-fd31fcf44f", "waiting_for_approval", "line 117: Bash pending", "Bash"),
    # L130 Task "superpowers:code-reviewer", L132–158 agent_progress with parentToolUseID = its id
    ("71-69f9710768", "working", "line 130: Task is running", "Task"),
    # L173 "The user doesn't want to proceed…", L174 "[Request interrupted by user for tool use]"
    ("9b-04c3d92e38-1", "waiting_for_input", "line 174: the user interrupted", None),
    # L54 text "All tests pass and no lint issues…", "stop_reason":null (2.0.76). L1 and L24
    # are stop_hook_summary lines: this file's turns end with one, so the classifier waits
    # for it (MARKED_SETTLE). Entire copied the file from inside that very Stop hook.
    ("a6-e4c2a0fbd1", "working", "line 54: the model is writing", None),
    # L14 text "Created `LICENSE` with the standard MIT license…", "stop_reason":null
    ("b0-be9accda39", "waiting_for_input", "line 14: reply finished", None),
    # L21 "<command-name>/exit</command-name>", L22 "<local-command-stdout>Catch you later!"
    ("c6-39a44ea03d", "ended", "line 21: /exit ended the session", None),
    # L9 text "Created [.github/CODEOWNERS]…", "stop_reason":null
    ("c9-883595c929", "waiting_for_input", "line 9: reply finished", None),
    # L52 text (plan mode), L53 {"hookEvent":"Stop"}
    ("ec-38b74f08e3", "waiting_for_input", "line 53: Stop hook ran", None),
    # L19 text "stop_reason":"end_turn", L20 stop_hook_summary, then last-prompt/permission-mode
    ("24-44cdc4a359", "waiting_for_input", "line 20: the turn is over", None),
    # L22 text "Committed and pushed…" "end_turn", L23–25 {"hookEvent":"Stop"}
    ("be-84e84641f3", "waiting_for_input", "line 25: Stop hook ran", None),
    # a subagent file (isSidechain + agentId on every line); L40 its final text
    ("agent-aac57f5", "working", "line 40: the model is writing", None),
    # the compaction summariser; L2 its summary text
    ("agent-acompact-946d2b", "working", "line 2: the model is writing", None),
    # L15 system local_command "<local-command-stdout>Kept model as Default…"
    ("spotter__short", "waiting_for_input", "line 15: a local command finished", None),
    # L92 text, L93–95 {"hookEvent":"Stop"}, L96 stop_hook_summary
    ("spotter__subagent", "waiting_for_input", "line 96: the turn is over", None),
    # L38 WebFetch result, L39 "[Request interrupted by user]"
    ("spotter__tool_heavy", "waiting_for_input", "line 39: the user interrupted", None),
]


@pytest.mark.parametrize(("key", "status", "reason", "tool"), END_STATES, ids=[e[0] for e in END_STATES])
def test_end_state(corpus_dir: Path, key: str, status: Status, reason: str, tool: str | None) -> None:
    path = corpus_file(corpus_dir, key)
    result = inspect_file(path, now=last_time(path) + timedelta(seconds=10))
    assert (result.status, result.reason[: len(reason)]) == (status, reason)
    assert (result.pending_tool.name if result.pending_tool else None) == tool


def test_every_corpus_file_has_an_end_state(corpus_dir: Path) -> None:
    keys = [e[0] for e in END_STATES]
    assert all(sum(key in p.name for key in keys) == 1 for p in (corpus_dir / "claude").glob("*.jsonl"))


@pytest.mark.parametrize("key", ["4c-70d9b5734c", "60-fd31fcf44f"])
def test_a_pending_commit_is_working_until_approval_after(corpus_dir: Path, key: str) -> None:
    # Both end with a Bash `git commit` tool_use as their newest line (2.1.42 / 2.1.34,
    # versions that write bash_progress from ~2 s): working until approval_after.
    path = corpus_file(corpus_dir, key)
    last = last_time(path)
    early = inspect_file(path, now=last + LIMITS.approval_after - timedelta(seconds=1))
    assert early.status == "working"
    late = inspect_file(path, now=last + LIMITS.approval_after)
    assert (late.status, late.since) == ("waiting_for_approval", last + LIMITS.approval_after)
    assert late.pending_tool is not None and late.pending_tool.summary.startswith("git add ")


def test_a_pending_commit_is_working_when_hooks_report_approvals(corpus_dir: Path) -> None:
    path = corpus_file(corpus_dir, "4c-70d9b5734c")
    limits = Thresholds(infer_approval=False)
    result = inspect_file(path, now=last_time(path) + timedelta(minutes=4), limits=limits)
    assert result.status == "working"


def test_a_final_text_waits_for_the_stop_hook_line_a_while(corpus_dir: Path) -> None:
    path = corpus_file(corpus_dir, "a6-e4c2a0fbd1")
    result = inspect_file(path, now=last_time(path) + MARKED_SETTLE)
    assert result.status == "waiting_for_input"
    assert result.reason == "line 54: reply finished, nothing written since"


def test_subagent_files_end(corpus_dir: Path) -> None:
    for key in ("agent-aac57f5", "agent-acompact-946d2b"):
        path = corpus_file(corpus_dir, key)
        result = inspect_file(path, now=last_time(path) + MARKED_SETTLE)
        assert result.status == "ended"
        assert result.session_id == "agent-" + key.removeprefix("agent-")


def test_meta_of_a_session(corpus_dir: Path) -> None:
    path = corpus_file(corpus_dir, "4c-70d9b5734c")
    meta = feed_file(SOURCE, FileInfo("claude", path.stem), path).meta
    assert meta.session_id == "c010174c-a7cd-4bcc-b7d4-61258d6c463f"
    assert (meta.cwd, meta.project) == ("/Users/alex/workspace/cli/.worktrees/3", "3")
    assert meta.branch == "alex/fix-gemini-checkpointing"
    assert meta.title.startswith("Implement the following plan: # Fix Gemini Transcript Parsing")


def test_meta_of_a_subagent_file(corpus_dir: Path) -> None:
    path = corpus_file(corpus_dir, "agent-aac57f5")
    meta = feed_file(SOURCE, FileInfo("claude", path.stem), path).meta
    assert (meta.session_id, meta.parent_id) == ("agent-aac57f5", "ae4a77f8-aedd-4bc1-888f-c94edc91af04")
    assert meta.title.startswith("Search hex.pm for the latest versions")


def test_summary_lines_name_the_session(corpus_dir: Path) -> None:
    # L128–129 {"type":"summary","summary":"Add agent name to logging context"…}
    path = corpus_file(corpus_dir, "37-995ebed6e4-2")
    meta = feed_file(SOURCE, FileInfo("claude", path.stem), path).meta
    assert meta.title == "Add agent name to logging context"


# -- (c) replays ---------------------------------------------------------------------------------


def test_exit_plan_mode_waits_for_approval(corpus_dir: Path) -> None:
    # spotter subagent.jsonl L67 ExitPlanMode at 21:59:19.841, approved at L68 110 s later.
    run = probes(corpus_dir, "spotter__subagent")
    before = status_before(run, 68)
    assert before.status == "waiting_for_approval"
    assert before.reason.startswith("line 67: ExitPlanMode pending")
    assert before.pending_tool is not None and before.pending_tool.name == "ExitPlanMode"
    assert statuses_after(run, 67)[0] == "working"  # not before approval_after
    assert statuses_after(run, 68)[0] == "working"  # approved: the model goes on


def test_ask_user_question_waits_for_input(corpus_dir: Path) -> None:
    # subagent.jsonl L33 AskUserQuestion "Which rig do these beads belong to?", answered at L34.
    run = probes(corpus_dir, "spotter__subagent")
    assert set(statuses_after(run, 33)) == {"waiting_for_input"}
    assert status_before(run, 34).reason.startswith("line 33: AskUserQuestion")
    assert statuses_after(run, 34)[0] == "working"


def test_a_task_with_agent_progress_is_working(corpus_dir: Path) -> None:
    # subagent.jsonl L36 Task, L37–55 agent_progress, L56 its result.
    run = probes(corpus_dir, "spotter__subagent")
    assert {s for line in range(36, 56) for s in statuses_after(run, line)} == {"working"}


def test_a_rejected_bash_waited_for_approval(corpus_dir: Path) -> None:
    # 9b-04c3d92e38-1 L172 Bash `git checkout -- …` at 03:05:02, no bash_progress for 41 s,
    # then L173 the rejection and L174 "[Request interrupted by user for tool use]".
    run = probes(corpus_dir, "9b-04c3d92e38-1")
    assert statuses_after(run, 172) == ["working", "waiting_for_approval", "waiting_for_approval"]
    assert status_before(run, 173).reason.startswith("line 172: Bash pending 40 s")
    assert statuses_after(run, 174)[0] == "waiting_for_input"


def test_a_running_bash_is_no_approval(corpus_dir: Path) -> None:
    # 9b-04c3d92e38-1 L160 Bash, L161–163 bash_progress at +2, +3, +4 s, L164 its result.
    run = probes(corpus_dir, "9b-04c3d92e38-1")
    seen = {s for line in range(160, 165) for s in statuses_after(run, line)}
    assert seen == {"working"}
    # The whole long test run (L46 Bash, L47–122 bash_progress) is working too.
    assert {s for line in range(46, 123) for s in statuses_after(run, line)} == {"working"}


def test_a_write_waited_for_approval(corpus_dir: Path) -> None:
    # b0-be9accda39 L7 Write LICENSE at 16:28:00.984 waits 50 s, then L8 the rejection.
    run = probes(corpus_dir, "b0-be9accda39")
    before = status_before(run, 8)
    assert before.status == "waiting_for_approval"
    assert before.reason.startswith("line 7: Write pending 49 s")
    assert statuses_after(run, 8)[0] == "working"  # "…the user said: …": the turn goes on


def test_an_edit_waited_for_approval(corpus_dir: Path) -> None:
    # 00-c9e2351016-3 L28 Edit at 00:26:02.562 (default mode) waits 125 s, L29 rejection.
    run = probes(corpus_dir, "00-c9e2351016-3")
    assert statuses_after(run, 28) == ["working", "waiting_for_approval", "waiting_for_approval"]
    assert status_before(run, 29).reason.startswith("line 28: Edit pending 2 min")
    # L30 "[Request interrupted by user for tool use]"
    assert statuses_after(run, 30)[0] == "waiting_for_input"


def test_late_bash_progress_ends_an_approval_wait(corpus_dir: Path) -> None:
    # 60-fd31fcf44f L90 Bash at 07:39:24 (acceptEdits); the first bash_progress only at L91,
    # 80 s later: it was approved, then ran.
    run = probes(corpus_dir, "60-fd31fcf44f")
    assert status_before(run, 91).status == "waiting_for_approval"
    assert statuses_after(run, 91) == ["working", "working"]


def test_compaction_stays_one_working_session(corpus_dir: Path) -> None:
    # a6-e4c2a0fbd1 L30 tool_result, L31 compact_boundary (auto, 155,250 tokens), L32 the
    # isCompactSummary user line, L33 the model goes on.
    path = corpus_file(corpus_dir, "a6-e4c2a0fbd1")
    run = probes(corpus_dir, "a6-e4c2a0fbd1")
    assert {s for line in (30, 31, 32) for s in statuses_after(run, line)} == {"working"}
    state = SOURCE.new_state(FileInfo("claude", path.stem))
    ids = set()
    for item in iter_records(path):
        state.feed(item.record, item.line_no, SOURCE.record_time(item.record) or last_time(path))
        ids.add(state.meta.session_id)
    assert ids - {None} == {"198393f2-22db-477b-ac77-1825bea883ae"}


def test_exit_then_resume(corpus_dir: Path) -> None:
    # a6-e4c2a0fbd1 L4–5 /exit "Goodbye!"; L7 "No response requested."; L8 a new prompt.
    run = probes(corpus_dir, "a6-e4c2a0fbd1")
    assert set(statuses_after(run, 5)) == {"ended"}
    assert statuses_after(run, 7)[0] == "waiting_for_input"
    assert statuses_after(run, 8)[0] == "working"


def test_a_resume_rewrite_is_deduplicated(corpus_dir: Path) -> None:
    # 37-995ebed6e4-2 L128 reply (+ a glued summary), L131 the same uuid re-written by the
    # resume, L132 SessionStart:resume: the session waits for a prompt, it is not working.
    run = probes(corpus_dir, "37-995ebed6e4-2")
    assert statuses_after(run, 131)[-1] == "idle"
    assert set(statuses_after(run, 132)) == {"waiting_for_input"}
    assert statuses_after(run, 134)[0] == "working"


def test_inline_sidechain_lines_do_not_decide(corpus_dir: Path) -> None:
    # 5c0375b4 (1.0.108) L16–22 and L26–40: a subagent's lines inline, while Task runs.
    run = probes(corpus_dir, "5c0375b4")
    assert {s for line in range(13, 41) for s in statuses_after(run, line)} == {"working"}


def test_replays_of_every_file_are_consistent(corpus_dir: Path) -> None:
    # No verdict is ever "waiting_for_approval" without a pending tool, and rechecks never
    # run backwards in time.
    for path in sorted((corpus_dir / "claude").glob("*.jsonl")):
        run = replay(SOURCE, FileInfo("claude", path.stem), path, LIMITS)
        assert all(p.pending_tool is not None for p in run if p.status == "waiting_for_approval")
        assert all(a.at <= b.at for a, b in itertools.pairwise(run))
        assert transitions(run)[0].status in ("working", "waiting_for_input")
