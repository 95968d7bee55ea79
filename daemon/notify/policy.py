"""What to toast, and when: the rules every platform's notifier shares.

Pure: a transition, the user's controls, the ledger of toasts already shown and the clock
come in; a decision comes out. No I/O, no wall clock, no sleeps. `notifier.py` is the
I/O shell around it (desktop-notifier, timers, the store), and the macOS and Windows
backends, which cannot run in CI, go through exactly these rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Literal, Protocol, cast, get_args

from sessiond.notify.toast_text import MAX_TOAST_BODY as MAX_TOAST_BODY
from sessiond.notify.toast_text import MAX_TOAST_TITLE, toast_text, where
from sessiond.notify.toast_text import project_of as _project
from sessiond.protocol import (
    WAITING,
    JSONDict,
    Session,
    Status,
    Transition,
    clip,
    format_ts,
    parse_ts,
)

Kinds = Literal["approval", "input", "both"]
ToastKind = Literal["approval", "input"]

KINDS: tuple[Kinds, ...] = get_args(Kinds)
DEFAULT_COALESCE_S = 1.5
# How long the toast's "Mute project" button mutes for.
MUTE_BUTTON_FOR = timedelta(hours=1)
# A transition recovered after a restart older than this is history, not news.
MAX_RECOVERED_AGE = timedelta(minutes=5)
# A session that keeps flapping still gets its toast this many windows after the first
# transition of the burst, instead of being pushed back forever.
MAX_DELAY_WINDOWS = 4



class ControlsError(ValueError):
    """A control has an invalid value; the message is one sentence for the user."""


# -- controls -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span of local time without toasts; `end` before `start` spans midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*", text)
        if not match:
            raise ControlsError(f"Quiet hours must look like 22:00-08:00, not {text!r}.")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ControlsError(f"Quiet hours must use times from 00:00 to 23:59, not {text!r}.")
        if (h1, m1) == (h2, m2):
            raise ControlsError("Quiet hours need a start and an end that differ.")
        return cls(time(h1, m1), time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        moment = local.replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True)
class Controls:
    """What the user chose; JSON in the store (`kv` key "controls") and in `[notify]`."""

    kinds: Kinds = "both"
    # project -> muted until (UTC), or None for "until unmuted".
    mutes: Mapping[str, datetime | None] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    # 0 means off (the default): no reminder toast for a long wait.
    reminder_after_min: float = 0.0
    sound: bool = True
    coalesce_s: float = DEFAULT_COALESCE_S
    # Toast other machines' waits too (sessions from the bus), their machine in the title.
    remote: bool = True

    def to_json(self) -> JSONDict:
        return {
            "kinds": self.kinds,
            "mutes": {p: format_ts(u) if u else None for p, u in sorted(self.mutes.items())},
            "quiet_hours": str(self.quiet_hours) if self.quiet_hours else None,
            "reminder_after_min": self.reminder_after_min,
            "sound": self.sound,
            "coalesce_s": self.coalesce_s,
            "remote": self.remote,
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], base: Controls | None = None
    ) -> tuple[Controls, list[str]]:
        """`base` with the valid keys of `data` applied, and a sentence per bad key.

        Lenient on purpose: one mistyped setting must not cost the user every other one,
        nor stop the daemon. The caller reports the sentences (log, `sessiond doctor`).
        """
        controls = base or cls()
        problems: list[str] = []
        for key, value in data.items():
            parse = _PARSERS.get(key)
            if parse is None:
                problems.append(f"unknown setting {key!r} (ignored)")
                continue
            try:
                controls = replace(controls, **{key: parse(value)})
            except ControlsError as exc:
                problems.append(str(exc))
        return controls, problems

    def muted_until(self, project: str, now: datetime) -> tuple[bool, datetime | None]:
        for name, until in self.mutes.items():
            if name.casefold() == project.casefold() and (until is None or until > now):
                return True, until
        return False, None

    def with_mute(self, project: str, until: datetime | None, now: datetime) -> Controls:
        mutes = dict(self.without_mute(project).pruned(now).mutes)
        mutes[project] = until
        return replace(self, mutes=mutes)

    def without_mute(self, project: str) -> Controls:
        mutes = {p: u for p, u in self.mutes.items() if p.casefold() != project.casefold()}
        return replace(self, mutes=mutes)

    def pruned(self, now: datetime) -> Controls:
        """Without the mutes that have expired (so the store does not grow forever)."""
        return replace(self, mutes={p: u for p, u in self.mutes.items() if u is None or u > now})

    def wants(self, kind: ToastKind) -> bool:
        return self.kinds in ("both", kind)


# Muted projects kept at once: each toast decision looks at every one of them.
MAX_MUTES = 256
MAX_PROJECT_NAME = 200


def project_name_problem(name: str) -> str | None:
    """Why `name` cannot be muted (one sentence), or None when it can."""
    if not name.strip():
        return "The project name is empty."
    if len(name) > MAX_PROJECT_NAME or not name.isprintable():
        return f"A project name is at most {MAX_PROJECT_NAME} printable characters (no control characters)."
    return None


def mute_limit_problem(controls: Controls, project: str, now: datetime) -> str | None:
    """Why one more mute cannot be added (one sentence), or None."""
    live = controls.without_mute(project).pruned(now).mutes
    if len(live) >= MAX_MUTES:
        return f"{MAX_MUTES} projects are muted already; unmute some first."
    return None


def _parse_kinds(value: object) -> Kinds:
    if value not in KINDS:
        raise ControlsError(f"kinds must be one of approval, input, both, not {value!r}.")
    return value


def _parse_mutes(value: object) -> dict[str, datetime | None]:
    # The config file may list projects muted for good: `mutes = ["scratch"]`.
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return dict.fromkeys(cast("list[str]", value))
    if not isinstance(value, dict):
        raise ControlsError("mutes must be a list of projects or a table of project = time.")
    mutes: dict[str, datetime | None] = {}
    for project, until in value.items():
        if until is None or until == "":
            mutes[str(project)] = None
        else:
            parsed = until if isinstance(until, datetime) else parse_ts(until)
            if parsed is None:
                raise ControlsError(f"the mute of {project!r} must end at an ISO-8601 time.")
            mutes[str(project)] = parsed
    return mutes


def _parse_quiet(value: object) -> QuietHours | None:
    if value is None or value is False or value in ("", "off"):
        return None
    if not isinstance(value, str):
        raise ControlsError("quiet_hours must be a string like 22:00-08:00.")
    return QuietHours.parse(value)


def _parse_minutes(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ControlsError("reminder_after_min must be a number of minutes (0 turns it off).")
    return float(value)


def _parse_sound(value: object) -> bool:
    if not isinstance(value, bool):
        raise ControlsError("sound must be true or false.")
    return value


def _parse_remote(value: object) -> bool:
    if not isinstance(value, bool):
        raise ControlsError("remote must be true or false.")
    return value


def _parse_coalesce(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60:
        raise ControlsError("coalesce_s must be a number of seconds from 0 to 60.")
    return float(value)


_PARSERS: dict[str, Any] = {
    "kinds": _parse_kinds,
    "mutes": _parse_mutes,
    "quiet_hours": _parse_quiet,
    "reminder_after_min": _parse_minutes,
    "sound": _parse_sound,
    "coalesce_s": _parse_coalesce,
    "remote": _parse_remote,
}


def file_controls(file_table: object) -> tuple[Controls, list[str]]:
    """Defaults < the config file's `[notify]` table (resolved once, with the config)."""
    if isinstance(file_table, Mapping):
        controls, found = Controls.from_json(file_table, Controls())
        return controls, [f"config file [notify]: {p}" for p in found]
    if file_table is not None:
        return Controls(), ["config file: [notify] must be a table"]
    return Controls(), []


def with_overrides(base: Controls, overrides: object) -> tuple[Controls, list[str]]:
    """`base` < what the CLI or panel stored."""
    if not isinstance(overrides, Mapping):
        return base, []
    controls, found = Controls.from_json(overrides, base)
    return controls, [f"stored controls: {p}" for p in found]


def merge_controls(file_table: object, overrides: object) -> tuple[Controls, list[str]]:
    """Defaults < the config file's `[notify]` table < what the CLI or panel stored."""
    base, problems = file_controls(file_table)
    controls, found = with_overrides(base, overrides)
    return controls, problems + found


def changed_keys(old: Controls, new: Controls) -> JSONDict:
    """The JSON keys whose value differs: what a CLI or panel change stores as override.

    Only those are stored, so a later edit of the config file still applies to every
    setting the user has not changed by hand.
    """
    before, after = old.to_json(), new.to_json()
    return {k: v for k, v in after.items() if before.get(k) != v}


def parse_duration(text: str) -> timedelta:
    """`30m`, `1h`, `2d`, `1h30m`, `90s`, `1w` as a timedelta."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip().lower())
    rebuilt = "".join(n + u for n, u in parts)
    if not parts or rebuilt != re.sub(r"\s+", "", text.strip().lower()):
        raise ControlsError(f"A duration looks like 30m, 1h or 2d, not {text!r}.")
    seconds = sum(float(n) * units[u] for n, u in parts)
    if seconds <= 0:
        raise ControlsError("A duration must be longer than zero.")
    return timedelta(seconds=seconds)


# -- decisions ----------------------------------------------------------------------


class Ledger(Protocol):
    """Toasts already shown; `Store` is one."""

    def was_notified(self, session_id: str, transition_at: str, status: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Toast:
    session_id: str
    project: str
    kind: ToastKind
    status: Status
    title: str
    body: str
    sound: bool
    # (session_id, transition time, status): the ledger row that says it was shown.
    ledger_key: tuple[str, str, str]
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    toast: Toast | None
    # "toast", or why not: a short word that is also the `toasts_skipped` metric label.
    reason: str

    @property
    def skipped(self) -> bool:
        return self.toast is None


def decide(
    t: Transition,
    *,
    controls: Controls,
    ledger: Ledger,
    now: datetime,
    replayed: bool = False,
    recovered: bool = False,
    tz: tzinfo | None = None,
    local_host: str = "",
) -> Decision:
    """Toast this transition, or say why not.

    `replayed`: replayed after a restart, or a state that existed at start-up: never.
    `recovered`: a Working→Waiting that happened while the daemon was down, minutes ago;
    it toasts once, and the ledger makes "once" hold across crash loops.
    `tz`: the zone quiet hours are read in (None: the system's local zone).
    `local_host`: this machine's name; another machine's wait says its name in the title.
    """
    if not t.is_working_to_waiting:
        return Decision(None, "not_a_wait")
    if replayed:
        return Decision(None, "replayed")
    if recovered and now - t.at > MAX_RECOVERED_AGE:
        return Decision(None, "too_old")
    remote = t.session.host not in ("", local_host)
    if remote and not controls.remote:
        return Decision(None, "remote_off")
    skip = _filtered(t.session, t.to_status, controls, now, tz)
    if skip:
        return Decision(None, skip)
    key = (t.session_id, format_ts(t.at), t.to_status)
    if ledger.was_notified(*key):
        return Decision(None, "already_notified")
    toast = _toast(t.session, t.to_status, controls, key)
    if remote:
        toast = replace(toast, title=clip(f"{toast.title} on {t.session.host}", MAX_TOAST_TITLE))
    return Decision(toast, "toast")


def decide_reminder(
    session: Session, *, waited: timedelta, controls: Controls, now: datetime,
    tz: tzinfo | None = None,
) -> Decision:
    """The one reminder for a session still waiting after `reminder_after_min`."""
    if session.status not in WAITING:
        return Decision(None, "not_a_wait")
    if controls.reminder_after_min <= 0:
        return Decision(None, "reminder_off")
    skip = _filtered(session, session.status, controls, now, tz)
    if skip:
        return Decision(None, skip)
    key = (session.id, format_ts(session.status_since), session.status)
    toast = _toast(session, session.status, controls, key)
    minutes = max(1, round(waited.total_seconds() / 60))
    title = clip(f"Still waiting ({minutes} min) — {where(session)}", MAX_TOAST_TITLE)
    return Decision(replace(toast, title=title, reminder=True), "toast")


def _filtered(
    session: Session, status: Status, controls: Controls, now: datetime, tz: tzinfo | None
) -> str | None:
    if session.parent_id:
        return "subagent"
    if not controls.wants(_kind(status)):
        return "kind_filtered"
    if controls.muted_until(_project(session), now)[0]:
        return "muted"
    if controls.quiet_hours and controls.quiet_hours.contains(now.astimezone(tz).time()):
        return "quiet_hours"
    return None


def should_withdraw(shown_status: Status, t: Transition) -> bool:
    """Take a shown toast back once its session has moved on (the user got there first).

    Idle is the same wait grown old, so the toast stays.
    """
    return t.to_status != shown_status and t.to_status != "idle"


def _kind(status: Status) -> ToastKind:
    return "approval" if status == "waiting_for_approval" else "input"


def _toast(
    session: Session, status: Status, controls: Controls, key: tuple[str, str, str]
) -> Toast:
    title, body = toast_text(session, status)
    return Toast(
        session_id=session.id,
        project=_project(session),
        kind=_kind(status),
        status=status,
        title=title,
        body=body,
        sound=controls.sound,
        ledger_key=key,
    )


# -- coalescing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """A burst that is due: the transition to decide on, in its latest state."""

    transition: Transition
    recovered: bool
    # The session left its wait again before the window closed: nothing to show.
    superseded: bool


@dataclass(slots=True)
class _Burst:
    latest: Transition
    recovered: bool
    started: float
    due: float


class Coalescer:
    """Holds a session's Working→Waiting for a short window so a burst gives one toast.

    A burst starts with a Working→Waiting; every later transition of the same session
    within the window replaces the state and pushes the deadline back (up to
    MAX_DELAY_WINDOWS windows after the start). When it is due, the toast is about the
    latest state: still waiting (of either kind) → one toast; back to work → none.
    Times are plain monotonic seconds passed in by the caller.
    """

    def __init__(self) -> None:
        self._bursts: dict[str, _Burst] = {}

    def offer(
        self, t: Transition, now: float, *, window: float, recovered: bool = False
    ) -> float | None:
        """Take a transition; returns when its session's burst is due (None: no burst)."""
        burst = self._bursts.get(t.session_id)
        if burst is None:
            if not t.is_working_to_waiting:
                return None
            burst = self._bursts[t.session_id] = _Burst(t, recovered, now, now + window)
            return burst.due
        burst.latest = t
        burst.recovered = recovered
        burst.due = min(now + window, burst.started + MAX_DELAY_WINDOWS * max(window, 0.0))
        return burst.due

    def pop_due(self, now: float) -> list[Pending]:
        due = [sid for sid, b in self._bursts.items() if b.due <= now]
        return [self._pending(self._bursts.pop(sid)) for sid in due]

    def next_due(self) -> float | None:
        return min((b.due for b in self._bursts.values()), default=None)

    def __len__(self) -> int:
        return len(self._bursts)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._bursts

    @staticmethod
    def _pending(burst: _Burst) -> Pending:
        latest = burst.latest
        if latest.to_status not in WAITING:
            return Pending(latest, burst.recovered, superseded=True)
        # Approval → input inside the window is still the same wait for the user: show
        # the latest state as the Working→Waiting it amounts to.
        if latest.from_status != "working":
            latest = replace(latest, from_status="working")
        return Pending(latest, burst.recovered, superseded=False)
