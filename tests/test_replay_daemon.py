"""Real corpus transcripts replayed through the REAL daemon (tests/daemon_replay.py).

Each file is appended, line by line, where its agent writes it, at the pace of its own
timestamps compressed 8× (gaps capped at 3 s), into one running daemon whose thresholds
are scaled the same way; an SSE client records the transitions it publishes. The pure
replays (tests/test_corpus_claude.py, test_codex_classifier.py, test_gemini_classifier.py,
test_cursor_classifier.py) established what a careful reader derives line by line; here
the live path (watcher, tailer, engine, timers, hub, SSE) must say the same:
- the key statuses appear, in order, among the published transitions (lines that reach
  the daemon in one read are classified together, so brief states in between may be
  skipped: that is correct, and not asserted against);
- the published statuses are a subsequence of what the rules give for the file as it was
  written (no status the rules do not give: no approval while a tool merely runs);
- the final state equals `sessiond inspect`'s for the same file, clock and thresholds.

All replays run at once (about 45 s in all). Line numbers are the corpus files' own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sessiond.inspection import inspect_file

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.daemon_replay import (
    DaemonReplay,
    Published,
    ReplayClock,
    ReplaySpec,
    is_subsequence,
    run_replays,
)

CLOCK = ReplayClock(scale=1 / 8, cap=3.0, margin=0.3)
CURSOR_FOLDER = "Users-mauro-personal-project-cala-openai"  # the workspace of the Cursor file
SPECS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "spotter-subagent": ("claude", "claude/marot__spotter__subagent.jsonl", {}),
    "9b": ("claude", "claude/entireio__cli__9b-04c3d92e38-1-full.jsonl", {}),
    "b0": ("claude", "claude/entireio__cli__b0-be9accda39-0-full.jsonl", {}),
    "00": ("claude", "claude/entireio__cli__00-c9e2351016-3-full.jsonl", {}),
    # 1 MB, 817 lines, 2 h 23 min: lines 1-511 at once (L511 task_complete closes a turn),
    # then the turns of L512-L590 paced (the interrupt at L536-537, the escalation at L582).
    "5c": ("codex", "codex/entireio__external-agents__5c-d654717a10-0-full.jsonl",
           {"paced_from": 512, "last_line": 590}),
    # The same (as another session), but lines 1-511 land in one write: the daemon finds
    # a 675 KB file and reads it from its tail, as when it starts mid-session.
    "5c-from-tail": ("codex", "codex/entireio__external-agents__5c-d654717a10-0-full.jsonl",
                     {"paced_from": 512, "last_line": 590, "first_alone": False,
                      "session_id": "019da9bd-7cbb-7d22-b21c-0000000005c7"}),
    "pengui0": ("gemini", "gemini/Pengui0__cli__0-full.jsonl", {"folder": "cli"}),
    "cursor": ("cursor", "cursor/MarcAltabella__Cala-OpenAI__0-full.jsonl", {"folder": CURSOR_FOLDER}),
}
ROOT_VARS = ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "CURSOR_HOME")
Live = tuple[DaemonProcess, dict[str, DaemonReplay | BaseException]]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Iterator[Live]:
    daemon = make_daemon(tmp_path_factory.mktemp("replay") / "d", settings=CLOCK.settings())
    for root in (daemon.claude_projects, daemon.codex_sessions, daemon.gemini_tmp, daemon.cursor_projects):
        root.mkdir(parents=True)
    daemon.start()
    try:
        specs = {key: ReplaySpec(agent, corpus_dir / name, **kw) for key, (agent, name, kw) in SPECS.items()}
        yield daemon, run_replays(daemon, specs, CLOCK)
    finally:
        daemon.kill()


def replayed(live: Live, key: str) -> DaemonReplay:
    result = live[1][key]
    if isinstance(result, BaseException):
        raise result
    return result


# A key transition: (status, pattern searched in its reason, source or None, pending tool or None).
Key = tuple[str, str, str | None, str | None]


def matches(key: Key, published: Published) -> bool:
    status, pattern, source, tool = key
    return (
        published.status == status
        and re.search(pattern, published.reason) is not None
        and (source is None or published.source == source)
        and (tool is None or published.pending_tool == tool)
    )


def assert_keys(run: DaemonReplay, keys: list[Key]) -> None:
    assert is_subsequence(keys, run.transitions, matches), f"{keys}\nnot in order in\n{run.summary()}"


def approvals(run: DaemonReplay) -> list[Published]:
    return [t for t in run.transitions if t.status == "waiting_for_approval"]


# -- Claude Code ---------------------------------------------------------------------------


def test_claude_exit_plan_mode_waits_for_approval(live: Live) -> None:
    run = replayed(live, "spotter-subagent")
    assert_keys(run, [
        # L67 tool_use ExitPlanMode at 21:59:19.841; L68 "User has approved exiting plan
        # mode" 110 s later: a prompt on screen all along, found by the timer (no line).
        ("waiting_for_approval", r"^line 67: ExitPlanMode pending", "timer", "ExitPlanMode"),
        # L69 "[Request interrupted by user]", 2.3 s after L68 (0.3 s here).
        ("waiting_for_input", r"^line 69: the user interrupted", "transcript", None),
    ])
    # The wait ends with L68 (or L69, when both arrive in one read), not before.
    wait = next(i for i, t in enumerate(run.transitions) if t.reason.startswith("line 67:"))
    assert re.match(r"line 6[89]: ", run.transitions[wait + 1].reason), run.summary()


def test_claude_ask_user_question_waits_for_input(live: Live) -> None:
    run = replayed(live, "spotter-subagent")
    assert_keys(run, [
        # L33 tool_use AskUserQuestion "Which rig do these beads belong to?", answered at
        # L34 135 s later: waiting for input at once, never an approval.
        ("waiting_for_input", r"^line 33: AskUserQuestion waits for an answer", "transcript",
         "AskUserQuestion"),
        # L35 text "Now let me draft the beads." 3.5 s after L34: still working.
        ("working", r"^line 3[45]: ", "transcript", None),
    ])
    # L36 Task with agent_progress L37-55 until its result at L56: a running subagent.
    # The approvals published are the four pending tools the rules flag (L67 ExitPlanMode;
    # L72, L77, L87 Bash, each after PreToolUse hooks, results 25 s, 61 s, 47 s later).
    assert [a.reason.split(":")[0] for a in approvals(run)] == ["line 67", "line 72", "line 77", "line 87"]
    # L92 the final text, L93-95 hook_progress Stop, L96 stop_hook_summary.
    assert (run.final["status"], run.final["reason"]) == (
        "waiting_for_input", "line 96: the turn is over (stop_hook_summary)"
    )


def test_claude_running_bash_is_no_approval_but_a_silent_one_is(live: Live) -> None:
    run = replayed(live, "9b")
    # L160 Bash at 03:04:45.182, L161-163 bash_progress at +2, +3, +4 s, L164 its result:
    # running, not waiting. So is the long test run, L46 Bash with L47-122 bash_progress.
    # L172 Bash `git checkout -- …` at 03:05:02.028 with no progress for 41 s, then L173
    # "The user doesn't want to proceed…" and L174 "[Request interrupted by user for tool
    # use]": the only approval of the file.
    assert [(a.reason.split(":")[0], a.pending_tool, a.source) for a in approvals(run)] == [
        ("line 172", "Bash", "timer")
    ]
    assert_keys(run, [
        ("waiting_for_approval", r"^line 172: Bash pending", "timer", "Bash"),
        # L173 (working) and L174 are 1 ms apart: the daemon may read them together.
        ("waiting_for_input", r"^line 174: the user interrupted", "transcript", None),
    ])
    assert (run.final["status"], run.final["reason"]) == (
        "waiting_for_input", "line 174: the user interrupted the turn"
    )


def test_claude_write_waits_for_approval(live: Live) -> None:
    run = replayed(live, "b0")
    assert_keys(run, [
        # L7 tool_use Write LICENSE at 16:28:00.984 (default mode), 50 s until L8
        # "The user doesn't want to proceed with this tool use…".
        ("waiting_for_approval", r"^line 7: Write pending", "timer", "Write"),
        # L9 thinking 3 s after L8, L10 another Write (the user said how).
        ("working", r"^line (8|9|10): ", "transcript", None),
        # L14 text "Created `LICENSE`…" with stop_reason null: the end once settled.
        ("waiting_for_input", r"^line 14: reply finished, nothing written since", "timer", None),
    ])


def test_claude_edit_waits_for_approval(live: Live) -> None:
    run = replayed(live, "00")
    assert_keys(run, [
        # L28 tool_use Edit at 00:26:02.562 (default mode); L29 the rejection 125 s later,
        # L30 "[Request interrupted by user for tool use]" 3 ms after it.
        ("waiting_for_approval", r"^line 28: Edit pending", "timer", "Edit"),
        ("waiting_for_input", r"^line 30: the user interrupted", "transcript", None),
        # L32 "fix the test, the code is right"
        ("working", r"^line 3[23]: ", "transcript", None),
        # L50 thinking, L51 hook_progress Stop.
        ("waiting_for_input", r"^line 51: Stop hook ran", "transcript", None),
    ])


# -- Codex CLI -------------------------------------------------------------------------------


def test_codex_interrupt_and_the_856_s_escalation(live: Live) -> None:
    run = replayed(live, "5c")
    assert_keys(run, [
        # L512 task_started ("yes do that")
        ("working", r"^line 512: turn started", "transcript", None),
        # L536 the `<turn_aborted>` user text, L537 event turn_aborted reason "interrupted".
        ("waiting_for_input", r"^line 537: turn aborted \(interrupted\)", "transcript", None),
        # L538 task_started again ("or wait: actually we can make tmux a dependency…").
        ("working", r"^line 538: turn started", "transcript", None),
        # L563, L573 task_complete; L564, L574 task_started.
        ("waiting_for_input", r"^line 563: turn complete", "transcript", None),
        ("working", r"^line 574: turn started", "transcript", None),
        # L582 exec_command "mise run test:e2e:lifecycle" with sandbox_permissions
        # "require_escalated" under approval_policy on-request, 07:59:19.025; its output
        # only at L584, 08:13:35.420 (856 s): the approval prompt, found by the timer.
        ("waiting_for_approval", r"^line 582: exec_command asks to leave the sandbox", "timer",
         "exec_command"),
        # L584 its output; L585 reasoning 1.5 s later.
        ("working", r"^line 574: turn started.*latest line 58[4-9]: ", "transcript", None),
    ])
    # L588 write_stdin and L590 its output: working, and nothing else asks.
    assert len(approvals(run)) == 1
    assert run.final["status"] == "working"


def test_codex_read_from_the_tail_mid_session(live: Live) -> None:
    # Lines 1-511 appear at once: the daemon reads the file backwards from its end, feeds
    # its head for the title, and follows it without line numbers from there.
    run = replayed(live, "5c-from-tail")
    assert run.transitions[0].status == "waiting_for_input"  # L511 task_complete
    assert run.transitions[0].reason == "a recent line: turn complete (task_complete)"
    assert_keys(run, [
        ("waiting_for_input", r"turn aborted \(interrupted\)", "transcript", None),  # L537
        ("waiting_for_approval", r"^a recent line: exec_command asks to leave the sandbox", "timer",
         "exec_command"),  # L582
        ("working", r"^a recent line: turn started", "transcript", None),  # L584
    ])
    assert run.final["title"] == "can you check why `mise run test-all` fails"  # L7, from the head


# -- Gemini CLI ------------------------------------------------------------------------------


def test_gemini_works_while_tools_run_then_settles(live: Live) -> None:
    run = replayed(live, "pengui0")
    # L1 metadata, L3 a SessionStart hook warning: no prompt yet. L5 the prompt; L7, L12,
    # L17, L22, L27 empty gemini records while tools run (L22 -> L24 26 s) and their
    # re-writes with toolCalls, L10, L15... functionResponses: working throughout, and
    # never an approval (Gemini writes only completed calls). L32 "I have added the
    # `is_palindrome` function…" then L33 $set lastUpdated: the end once the file is quiet.
    assert [(t.status, t.reason, t.source) for t in run.transitions] == [
        ("waiting_for_input", "no prompt yet", "transcript"),
        ("working", "line 5: user prompt", "transcript"),
        ("waiting_for_input", "line 32: reply with no tool calls", "timer"),
    ]


# -- Cursor ----------------------------------------------------------------------------------


def test_cursor_turn_ends(live: Live) -> None:
    run = replayed(live, "cursor")
    # No timestamps: the lines are paced evenly (1 s apart) and dated by their arrival.
    assert_keys(run, [
        ("working", r"^line 1: user prompt", "transcript", None),
        ("waiting_for_input", r"^line 5: turn ended \(success\)", "transcript", None),
        ("working", r"^line 6: user prompt", "transcript", None),
        # L8 {"type":"turn_ended","status":"error","error":"User aborted request"}
        ("waiting_for_input", r"^line 8: turn ended: interrupted by the user", "transcript", None),
        ("waiting_for_input", r"^line 11: turn ended \(success\)", "transcript", None),
        ("waiting_for_input", r"^line 15: turn ended \(success\)", "transcript", None),
        # L16 a second turn_ended (aborted), L17 a new prompt "git fetch origin": working.
        ("working", r"^line 17: user prompt", "transcript", None),
    ])
    assert (run.final["status"], run.final["reason"]) == ("working", "line 17: user prompt")


# -- every replay ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(SPECS))
def test_published_statuses_follow_the_rules(live: Live, key: str) -> None:
    run = replayed(live, key)
    assert run.transitions, run.summary()
    assert is_subsequence(run.statuses, run.expected_statuses), (
        f"published {run.statuses}\nrules     {run.expected_statuses}\n{run.summary()}"
    )
    # A guessed approval always names the tool it waits for.
    assert all(a.pending_tool for a in approvals(run))


@pytest.mark.parametrize("key", list(SPECS))
def test_final_state_matches_inspect(live: Live, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon, _ = live
    run = replayed(live, key)
    for var in ROOT_VARS:  # so inspect finds the file under its agent's root
        monkeypatch.setenv(var, daemon.env[var])
    now = run.last_time + timedelta(seconds=run.tail)
    offline = inspect_file(run.path, now=now, limits=CLOCK.thresholds())
    assert (offline.agent, offline.session_id.startswith(run.session_id)) == (run.agent, True)
    assert run.final["agent"] == run.agent
    assert run.final["status"] == offline.status == run.expected[-1].status
    tool = offline.pending_tool.name if offline.pending_tool else None
    assert (run.final["pending_tool"] or {}).get("name") == tool
    if not key.endswith("from-tail"):  # there the daemon knows no line numbers
        assert run.final["reason"] == offline.reason


def test_files_are_laid_out_where_each_agent_writes_them(live: Live) -> None:
    daemon, _ = live
    claude = replayed(live, "spotter-subagent")
    encoded, name = claude.path.relative_to(daemon.claude_projects).parts
    assert name == f"{claude.session_id}.jsonl"
    assert claude.session_id == "491e126e-1e71-469c-ade2-fcc8af567c74"  # every line's sessionId
    assert encoded == re.sub(r"[^A-Za-z0-9]", "-", claude.final["cwd"])
    codex = replayed(live, "5c")
    parts = codex.path.relative_to(daemon.codex_sessions).parts
    assert len(parts) == 4 and all(p.isdigit() for p in parts[:3])
    assert re.fullmatch(r"rollout-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-019da9bd-7cbb-7d22-b21c-80faf72e7f8a\.jsonl",
                        parts[3])
    assert codex.session_id == "019da9bd-7cbb-7d22-b21c-80faf72e7f8a"
    gemini = replayed(live, "pengui0")
    assert gemini.path.relative_to(daemon.gemini_tmp).parts[:2] == ("cli", "chats")
    assert re.fullmatch(r"session-\d{4}-\d\d-\d\dT\d\d-\d\d-1795e8c7\.jsonl", gemini.path.name)
    assert gemini.session_id == "1795e8c7"
    cursor = replayed(live, "cursor")
    folder, transcripts, sid, name = cursor.path.relative_to(daemon.cursor_projects).parts
    assert (folder, transcripts, name) == (CURSOR_FOLDER, "agent-transcripts", f"{sid}.jsonl")
    # Each session was found there, with its metadata.
    assert codex.final["project"] == "external-agents"
    assert cursor.final["title"]

