"""The bus's entries, pure: what goes out, what is accepted, what is refused and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sessiond.bus import wire
from sessiond.config import name_problem
from sessiond.notify.policy import Controls, decide
from sessiond.protocol import Decision, Session, Terminal, Transition

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def session(**changes: object) -> Session:
    base = Session(id="s-1", agent="claude", status="waiting_for_input", status_since=NOW, last_activity=NOW,
                   project="shop", branch="main", host="a")
    return base.with_changes(**changes)


def fields(host: str, kind: str, data: object, event_id: int = 7) -> dict[bytes, bytes]:
    encoded = wire.encode(host, kind, event_id, data)  # type: ignore[arg-type]
    return {k.encode(): v for k, v in encoded.items()}


def test_a_session_and_a_transition_round_trip() -> None:
    s = session()
    entry = wire.decode(fields("a", "session", s.to_json()), name_problem)
    assert isinstance(entry, wire.Entry) and entry.session is not None
    assert entry.session.to_json() == {**s.to_json(), "terminal_note": "runs on a: focus it there"}
    t = Transition(session_id=s.id, from_status="working", to_status="waiting_for_input", at=NOW,
                   reason="line 3", source="transcript", session=s)
    got = wire.decode(fields("a", "transition", t.to_json()), name_problem)
    assert isinstance(got, wire.Entry) and got.transition is not None
    moved = got.transition
    assert (moved.from_status, moved.to_status, moved.at) == ("working", "waiting_for_input", NOW)


def test_what_an_entry_says_of_itself_is_not_trusted() -> None:
    s = session(host="someone-else", decision=Decision("d1", NOW, NOW + timedelta(minutes=5)),
                terminal=Terminal("tmux", "main:1.0", 42, True))
    entry = wire.decode(fields("a", "session", s.to_json()), name_problem)
    assert isinstance(entry, wire.Entry) and entry.session is not None
    assert entry.session.host == "a"  # the entry's machine, not the session's claim
    assert entry.session.decision is None and entry.session.terminal is None


@pytest.mark.parametrize(("raw", "why"), [
    ({b"v": b"1", b"host": b"a", b"kind": b"session", b"id": b"1", b"data": b"x" * (300 * 1024)}, "bytes"),
    ({b"v": b"2", b"host": b"a", b"kind": b"session", b"id": b"1", b"data": b"{}"}, "version"),
    ({b"v": b"1", b"host": b"../x", b"kind": b"session", b"id": b"1", b"data": b"{}"}, "machine name"),
    ({b"v": b"1", b"host": b"a", b"kind": b"delete", b"id": b"1", b"data": b"{}"}, "unknown kind"),
    ({b"v": b"1", b"host": b"a", b"kind": b"session", b"id": b"-1", b"data": b"{}"}, "event id"),
    ({b"v": b"1", b"host": b"a", b"kind": b"session", b"id": b"1", b"data": b"[1]"}, "not a JSON object"),
    ({b"v": b"1", b"host": b"a", b"kind": b"session", b"id": b"1", b"data": b"{"}, "not JSON"),
    ({b"v": b"1", b"host": b"a", b"kind": b"session", b"id": b"1",
      b"data": json.dumps({"id": "x", "agent": "vim", "status": "working"}).encode()}, "known agent"),
    ({b"v": b"1", b"host": b"a", b"kind": b"transition", b"id": b"1",
      b"data": json.dumps({"to": "done", "source": "hook", "session": {}}).encode()}, "does not match"),
    ({b"v": b"1", b"host": b"a", b"kind": b"removed", b"id": b"1", b"data": b'{"session_id": 5}'},
     "session id"),
])
def test_bad_entries_are_refused_with_a_reason(raw: dict[bytes, bytes], why: str) -> None:
    got = wire.decode(raw, name_problem)
    assert isinstance(got, wire.BadEntry) and why in got.why


def test_the_password_never_shows() -> None:
    assert wire.redacted("redis://:s3cret@h:6379/0") == "redis://***@h:6379/0"
    assert wire.redacted("rediss://laptop:s3cret@h:6380") == "rediss://laptop:***@h:6380"
    assert wire.redacted("redis://h:6379") == "redis://h:6379"


class NoLedger:
    def was_notified(self, *key: str) -> bool:
        return False


def test_another_machine_s_wait_toasts_with_its_name_unless_remote_is_off() -> None:
    t = Transition(session_id="s-1", from_status="working", to_status="waiting_for_input", at=NOW,
                   reason="", source="transcript", session=session())
    remote = decide(t, controls=Controls(), ledger=NoLedger(), now=NOW, local_host="b")
    assert remote.toast is not None and remote.toast.title == "Waiting for you — shop (main) on a"
    local = decide(t, controls=Controls(), ledger=NoLedger(), now=NOW, local_host="a")
    assert local.toast is not None and local.toast.title == "Waiting for you — shop (main)"
    off = decide(t, controls=Controls(remote=False), ledger=NoLedger(), now=NOW, local_host="b")
    assert off.toast is None and off.reason == "remote_off"
