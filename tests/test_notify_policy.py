"""The toast policy: which transitions toast, with what text, under which controls.

`notify_policy` is shared by every platform's notifier. The macOS
(UNUserNotificationCenter) and Windows (WinRT) backends cannot run here, so this pure
layer is what stands for them in CI; the Linux D-Bus path is tested end to end in
test_notifier_dbus.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from sessiond.notify.policy import (
    MAX_TOAST_BODY,
    Coalescer,
    Controls,
    ControlsError,
    QuietHours,
    changed_keys,
    decide,
    decide_reminder,
    merge_controls,
    parse_duration,
    should_withdraw,
    toast_text,
)
from sessiond.protocol import PendingTool, Session, Status, Transition, format_ts

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Ledger:
    def __init__(self, *shown: tuple[str, str, str]) -> None:
        self.shown = set(shown)

    def was_notified(self, session_id: str, transition_at: str, status: str) -> bool:
        return (session_id, transition_at, status) in self.shown


def session(
    sid: str = "s1", status: Status = "waiting_for_approval", *, project: str = "myapp",
    branch: str = "main", tool: PendingTool | None = None, parent_id: str | None = None,
    title: str = "", at: datetime = NOW,
) -> Session:
    return Session(
        id=sid, agent="claude", status=status, status_since=at, last_activity=at,
        parent_id=parent_id, project=project, cwd=f"/home/u/{project}", branch=branch,
        title=title, pending_tool=tool,
    )


def transition(
    frm: Status | None, to: Status, *, sid: str = "s1", at: datetime = NOW, **kw: object
) -> Transition:
    s = session(sid, to, at=at, **kw)  # type: ignore[arg-type]
    return Transition(sid, frm, to, at, "test", "transcript", s)


BASH = PendingTool("Bash", "git push origin main")


def run(t: Transition, controls: Controls | None = None, ledger: Ledger | None = None,
        **kw: object) -> tuple[str, str | None, str | None]:
    d = decide(t, controls=controls or Controls(), ledger=ledger or Ledger(), now=NOW,
               tz=UTC, **kw)  # type: ignore[arg-type]
    return d.reason, d.toast.title if d.toast else None, d.toast.body if d.toast else None


# -- text ---------------------------------------------------------------------------


def test_approval_reads_as_approval_with_the_tool() -> None:
    assert run(transition("working", "waiting_for_approval", tool=BASH)) == (
        "toast", "Needs approval — myapp (main)", "Bash: git push origin main"
    )


def test_input_reads_differently() -> None:
    reason, title, body = run(transition("working", "waiting_for_input", title="Fix login"))
    assert (reason, title) == ("toast", "Waiting for you — myapp (main)")
    assert body == "Claude finished its turn on “Fix login”"


def test_a_question_asked_is_the_body() -> None:
    question = PendingTool("AskUserQuestion", "Which database should I use?")
    t = transition("working", "waiting_for_input", tool=question)
    assert run(t)[2] == "Which database should I use?"


def test_no_branch_and_no_project_still_say_something() -> None:
    s = session(project="", branch="").with_changes(cwd="")
    title, body = toast_text(s, "waiting_for_approval")
    assert title == "Needs approval — Claude"
    assert body == "Claude asks for permission to go on"


def test_every_agent_is_named_as_people_know_it() -> None:
    s = session(project="", branch="").with_changes(cwd="", agent="opencode", title="Ship it")
    assert toast_text(s, "waiting_for_approval") == (
        "Needs approval — OpenCode", "OpenCode asks for permission to go on")
    assert toast_text(s, "waiting_for_input")[1] == "OpenCode finished its turn on “Ship it”"


def test_long_body_is_cut_to_fit() -> None:
    t = transition("working", "waiting_for_approval", tool=PendingTool("Bash", "x " * 500))
    body = run(t)[2]
    assert body is not None and len(body) == MAX_TOAST_BODY and body.endswith("…")


# -- what never toasts --------------------------------------------------------------


@pytest.mark.parametrize(("frm", "to"), [
    ("waiting_for_input", "working"), (None, "waiting_for_input"),
    ("idle", "waiting_for_input"), ("waiting_for_approval", "waiting_for_input"),
    ("working", "idle"), ("working", "ended"),
])
def test_only_working_to_waiting(frm: Status | None, to: Status) -> None:
    assert run(transition(frm, to))[0] == "not_a_wait"


def test_subagents_never_toast() -> None:
    assert run(transition("working", "waiting_for_input", parent_id="p1"))[0] == "subagent"


def test_replayed_never_toasts() -> None:
    assert run(transition("working", "waiting_for_input"), replayed=True)[0] == "replayed"


def test_recovered_toasts_once_through_the_ledger() -> None:
    t = transition("working", "waiting_for_input", at=NOW - timedelta(minutes=2))
    assert run(t, recovered=True)[0] == "toast"
    ledger = Ledger(("s1", format_ts(t.at), "waiting_for_input"))
    assert run(t, ledger=ledger, recovered=True)[0] == "already_notified"


def test_recovered_from_long_ago_is_history() -> None:
    t = transition("working", "waiting_for_input", at=NOW - timedelta(hours=1))
    assert run(t, recovered=True)[0] == "too_old"


# -- controls -----------------------------------------------------------------------


@pytest.mark.parametrize(("kinds", "approval", "input_"), [
    ("both", "toast", "toast"), ("approval", "toast", "kind_filtered"),
    ("input", "kind_filtered", "toast"),
])
def test_kinds(kinds: str, approval: str, input_: str) -> None:
    controls = Controls.from_json({"kinds": kinds})[0]
    assert run(transition("working", "waiting_for_approval"), controls)[0] == approval
    assert run(transition("working", "waiting_for_input"), controls)[0] == input_


def test_mute_with_expiry() -> None:
    t = transition("working", "waiting_for_input")
    muted = Controls().with_mute("MyApp", NOW + timedelta(minutes=30), NOW)
    assert run(t, muted)[0] == "muted"  # project names match without case
    expired = Controls().with_mute("myapp", NOW - timedelta(seconds=1), NOW)
    assert run(t, expired)[0] == "toast"
    forever = Controls().with_mute("myapp", None, NOW)
    assert run(t, forever)[0] == "muted"
    assert run(t, forever.without_mute("MYAPP"))[0] == "toast"
    assert run(transition("working", "waiting_for_input", project="other"), forever)[0] == "toast"


def test_expired_mutes_are_pruned_on_the_next_change() -> None:
    c = Controls().with_mute("old", NOW - timedelta(hours=1), NOW - timedelta(hours=2))
    c = c.with_mute("new", None, NOW)
    assert set(c.mutes) == {"new"}


@pytest.mark.parametrize(("span", "clock", "quiet"), [
    ("22:00-08:00", time(23, 30), True),
    ("22:00-08:00", time(0, 0), True),
    ("22:00-08:00", time(7, 59), True),
    ("22:00-08:00", time(8, 0), False),
    ("22:00-08:00", time(21, 59), False),
    ("22:00-08:00", time(22, 0), True),
    ("12:30-13:30", time(13, 0), True),
    ("12:30-13:30", time(13, 30), False),
    ("12:30-13:30", time(3, 0), False),
])
def test_quiet_hours_including_across_midnight(span: str, clock: time, quiet: bool) -> None:
    assert QuietHours.parse(span).contains(clock) is quiet


def test_quiet_hours_are_local_time() -> None:
    controls = Controls.from_json({"quiet_hours": "22:00-08:00"})[0]
    t = transition("working", "waiting_for_input")
    # 12:00 UTC is 23:00 at UTC+11 (quiet) and 12:00 at UTC (not).
    plus11 = timezone(timedelta(hours=11))
    d = decide(t, controls=controls, ledger=Ledger(), now=NOW, tz=plus11)
    assert d.reason == "quiet_hours"
    assert run(t, controls)[0] == "toast"


@pytest.mark.parametrize("bad", ["22-08", "25:00-08:00", "10:00-10:00", "ab"])
def test_bad_quiet_hours_say_so(bad: str) -> None:
    with pytest.raises(ControlsError):
        QuietHours.parse(bad)


def test_controls_json_round_trip() -> None:
    c = Controls(kinds="approval", quiet_hours=QuietHours.parse("22:00-07:30"),
                 reminder_after_min=10, sound=False, coalesce_s=0.5,
                 mutes={"a": None, "b": NOW})
    back, problems = Controls.from_json(c.to_json())
    assert (back, problems) == (c, [])
    assert c.to_json()["mutes"] == {"a": None, "b": "2026-03-02T12:00:00.000Z"}


def test_file_gives_defaults_and_the_store_wins() -> None:
    file_table = {"kinds": "input", "sound": False, "quiet_hours": "23:00-07:00",
                  "mutes": ["scratch"]}
    overrides = {"sound": True, "quiet_hours": None}
    c, problems = merge_controls(file_table, overrides)
    assert problems == []
    assert (c.kinds, c.sound, c.quiet_hours, dict(c.mutes)) == ("input", True, None,
                                                                 {"scratch": None})


def test_a_bad_setting_costs_only_itself() -> None:
    c, problems = merge_controls({"kinds": "some", "sound": False, "colour": "red"}, {})
    assert c.kinds == "both" and c.sound is False
    assert problems == [
        "config file [notify]: kinds must be one of approval, input, both, not 'some'.",
        "config file [notify]: unknown setting 'colour' (ignored)",
    ]


def test_only_changed_keys_are_stored() -> None:
    c = Controls()
    assert changed_keys(c, c.with_mute("x", None, NOW)) == {"mutes": {"x": None}}


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1h30m", 5400), ("90s", 90), ("1w", 604800),
    ("1.5h", 5400),
])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "soon", "10", "1h soon", "0m", "-1h"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ControlsError):
        parse_duration(bad)


def test_sound_follows_the_control() -> None:
    t = transition("working", "waiting_for_input")
    quiet_one = decide(t, controls=Controls(sound=False), ledger=Ledger(), now=NOW)
    assert quiet_one.toast is not None and quiet_one.toast.sound is False


# -- reminders and withdrawal -------------------------------------------------------


def test_reminder_is_off_by_default_and_obeys_the_controls_when_on() -> None:
    s = session(status="waiting_for_approval", tool=BASH)
    wait = timedelta(minutes=10)
    assert decide_reminder(s, waited=wait, controls=Controls(), now=NOW).reason == "reminder_off"
    on = Controls(reminder_after_min=10)
    d = decide_reminder(s, waited=wait, controls=on, now=NOW)
    assert d.toast is not None and d.toast.reminder
    assert d.toast.title == "Still waiting (10 min) — myapp (main)"
    assert d.toast.body == "Bash: git push origin main"
    muted = on.with_mute("myapp", None, NOW)
    assert decide_reminder(s, waited=wait, controls=muted, now=NOW).reason == "muted"
    working = s.with_changes(status="working")
    assert decide_reminder(working, waited=wait, controls=on, now=NOW).reason == "not_a_wait"


@pytest.mark.parametrize(("shown", "to", "withdraw"), [
    ("waiting_for_approval", "working", True),
    ("waiting_for_input", "ended", True),
    ("waiting_for_approval", "waiting_for_input", True),
    ("waiting_for_input", "idle", False),
    ("waiting_for_input", "waiting_for_input", False),
])
def test_withdrawal(shown: Status, to: Status, withdraw: bool) -> None:
    assert should_withdraw(shown, transition(shown, to)) is withdraw


# -- coalescing ---------------------------------------------------------------------


def test_a_burst_gives_one_decision_on_the_latest_state() -> None:
    c = Coalescer()
    assert c.offer(transition("working", "waiting_for_input"), 0.0, window=1.5) == 1.5
    c.offer(transition("waiting_for_input", "working"), 0.5, window=1.5)
    due = c.offer(transition("working", "waiting_for_approval", tool=BASH), 1.0, window=1.5)
    assert due == 2.5 and c.pop_due(2.4) == []
    [pending] = c.pop_due(2.5)
    assert not pending.superseded
    assert pending.transition.to_status == "waiting_for_approval"
    assert len(c) == 0


def test_back_to_work_within_the_window_gives_nothing() -> None:
    c = Coalescer()
    c.offer(transition("working", "waiting_for_input"), 0.0, window=1.5)
    c.offer(transition("waiting_for_input", "working"), 0.2, window=1.5)
    [pending] = c.pop_due(10)
    assert pending.superseded


def test_approval_then_input_is_still_one_wait() -> None:
    c = Coalescer()
    c.offer(transition("working", "waiting_for_approval"), 0.0, window=1.5)
    c.offer(transition("waiting_for_approval", "waiting_for_input"), 0.1, window=1.5)
    [pending] = c.pop_due(10)
    assert pending.transition.is_working_to_waiting
    assert pending.transition.to_status == "waiting_for_input"


def test_sessions_coalesce_separately_and_flapping_is_capped() -> None:
    c = Coalescer()
    c.offer(transition("working", "waiting_for_input", sid="a"), 0.0, window=1.0)
    c.offer(transition("working", "waiting_for_input", sid="b"), 0.5, window=1.0)
    assert [p.transition.session_id for p in c.pop_due(1.0)] == ["a"]
    assert c.next_due() == 1.5
    # A session that never settles is decided at most 4 windows after its burst began.
    for i in range(20):
        frm: Status = "working" if i % 2 == 0 else "waiting_for_input"
        to: Status = "waiting_for_input" if i % 2 == 0 else "working"
        due = c.offer(transition(frm, to, sid="c"), 10 + i * 0.5, window=1.0)
    assert due == 14.0


def test_transitions_without_a_burst_are_not_held() -> None:
    c = Coalescer()
    assert c.offer(transition("waiting_for_input", "working"), 0.0, window=1.5) is None
    assert len(c) == 0
