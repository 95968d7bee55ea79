"""No false alarms: the accuracy benchmark's labels on real excerpts, and the rules it
measured (preambles, calls still streaming, quick approvals, conclusions).

Each label is checked with the line of the real transcript that justifies it (found by
its uuid). The rules are replayed with the daemon's own defaults (`Thresholds()`).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sessiond.sources.base import FileInfo, Thresholds, classify
from sessiond.sources.claude.transcript import ClaudeSource
from sessiond.sources.claude.wording import intent

from bench import accuracy


def moments_of(corpus_dir: Path, name: str) -> tuple[list[accuracy.Line], dict[str, accuracy.Moment]]:
    lines = accuracy.read_lines(corpus_dir / "claude" / name)
    by_uuid = {str(lines[m.line].record.get("uuid"))[:8]: m for m in accuracy.label(lines)}
    return lines, by_uuid


@pytest.mark.parametrize(("name", "uuid", "label", "kind", "lasts_s"), [
    # "…write the failing tests for the array-content format, then implement the fix." → a call 14.5 s later
    ("entireio__cli__4c-70d9b5734c-0-full.jsonl", "675e47bc", "working", "preamble", 14.5),
    # An Edit in default mode whose result came 60 s later, alone, with no progress
    ("entireio__cli__37-995ebed6e4-2-full.jsonl", "4dc09050", "waiting_for_approval", "slow-edit", 60.0),
    # A Write the user rejected
    ("entireio__cli__b0-be9accda39-0-full.jsonl", "84c210c0", "waiting_for_approval", "rejected", 50.0),
    # ExitPlanMode
    ("marot__spotter__subagent.jsonl", "83923a0e", "waiting_for_approval", "plan", 110.4),
    # "Which would you prefer?" and the next prompt 33.5 s later
    ("entireio__cli__71-69f9710768-0-full.jsonl", "72fdd429", "waiting_for_input", "reply-end", 33.5),
    # A Bash whose progress began at once: it ran, no prompt was on screen
    ("entireio__cli__00-c9e2351016-3-full.jsonl", "abb15e1f", "working", "bash-progress", 6.1),
])
def test_labels_come_from_what_the_file_shows_happened_next(
    corpus_dir: Path, name: str, uuid: str, label: str, kind: str, lasts_s: float,
) -> None:
    _, by_uuid = moments_of(corpus_dir, name)
    moment = by_uuid[uuid]
    assert (moment.label, moment.kind) == (label, kind)
    assert (moment.end - moment.start).total_seconds() == pytest.approx(lasts_s, abs=0.1)


def test_a_hook_s_stop_message_is_not_a_prompt(corpus_dir: Path) -> None:
    lines, _ = moments_of(corpus_dir, "entireio__cli__00-c9e2351016-3-full.jsonl")
    stopped = next(ln for ln in lines if "Operation stopped by hook" in str(ln.record.get("message")))
    assert not accuracy._is_prompt(stopped)


def replayed(corpus_dir: Path, name: str, upto_uuid: str, edit: Any = None) -> tuple[Any, Any]:
    """The Claude state after the line `upto_uuid` (and the lines before it)."""
    lines = accuracy.read_lines(corpus_dir / "claude" / name)
    source = ClaudeSource()
    state = source.new_state(FileInfo("claude", "s"))
    for ln in lines:
        record = edit(ln.record) if edit is not None else ln.record
        state.feed(record, ln.index + 1, ln.at)
        if str(ln.record.get("uuid", "")).startswith(upto_uuid):
            return state, ln
    raise AssertionError(f"no line {upto_uuid}")


def test_a_preamble_stays_working_while_the_call_streams(corpus_dir: Path) -> None:
    state, line = replayed(corpus_dir, "entireio__cli__4c-70d9b5734c-0-full.jsonl", "675e47bc")
    limits = Thresholds()
    for seconds in (limits.settle_after.total_seconds() + 1, 14):  # the call came at +14.5 s
        assert classify(state, line.at + timedelta(seconds=seconds), limits).status == "working"


def test_a_question_ends_the_turn_sooner(corpus_dir: Path) -> None:
    state, line = replayed(corpus_dir, "entireio__cli__71-69f9710768-0-full.jsonl", "72fdd429")
    verdict = classify(state, line.at + timedelta(seconds=3.5), Thresholds())
    assert verdict.status == "waiting_for_input"


def test_calls_of_one_message_still_streaming_are_no_approval_yet(corpus_dir: Path) -> None:
    """37-995 L65–66: two Bash calls of one message, stop_reason still null: the second
    may not be the last, so neither is taken for a prompt at `approval_after`."""
    state, second = replayed(corpus_dir, "entireio__cli__37-995ebed6e4-2-full.jsonl", "8728f303")
    limits = Thresholds()
    soon = second.at + limits.approval_after + timedelta(seconds=1)
    assert classify(state, soon, limits).status == "working"
    later = second.at + limits.approval_after * 3 + timedelta(seconds=1)
    assert classify(state, later, limits).status == "waiting_for_approval"


def test_an_edit_in_a_complete_message_is_an_approval_within_two_seconds(corpus_dir: Path) -> None:
    """37-995's Edit (approved after 60 s), its line as Claude writes it once the message
    is complete (stop_reason "tool_use"; 2.0–2.1.4x write null before it is known)."""
    def complete(record: dict[str, Any]) -> dict[str, Any]:
        if str(record.get("uuid", "")).startswith("4dc09050"):
            record = copy.deepcopy(record)
            record["message"]["stop_reason"] = "tool_use"
        return record

    state, line = replayed(corpus_dir, "entireio__cli__37-995ebed6e4-2-full.jsonl", "4dc09050", complete)
    limits = Thresholds()
    assert classify(state, line.at + timedelta(seconds=1), limits).status == "working"
    assert classify(state, line.at + timedelta(seconds=2), limits).status == "waiting_for_approval"


@pytest.mark.parametrize(("text", "expected"), [
    ("Now let me write the tests:", "preamble"),
    ("Let me create the filter package.", "preamble"),
    ("The parser is done. Next, I'll wire it into the CLI.", "preamble"),
    ("I'll check the remaining call sites", "preamble"),
    ("Let me know if you want the README updated too.", "conclusion"),
    ("Shall I open the pull request?", "conclusion"),
    ("All tests pass. The fix is in `parser.go`.", "neutral"),
    ("", "neutral"),
])
def test_what_a_reply_s_last_words_say(text: str, expected: str) -> None:
    assert intent(text) == expected


def test_the_benchmark_on_the_corpus_has_no_false_alarm_and_full_input_recall(corpus_dir: Path) -> None:
    result = accuracy.run_on(corpus_dir)
    everything = result["by_version"]["all"]
    assert everything["working"] > 40 and everything["false_alarm_rate"] == 0
    assert everything["waiting_for_input"]["recall"] == 1.0
    assert everything["waiting_for_approval"]["precision"] == 1.0
