"""The event hub: ids, resume windows, filters, slow clients."""

import json

from sessiond.engine.hub import EventFilter, EventHub


def test_ids_increase_and_resume_window() -> None:
    hub = EventHub(capacity=5)
    for i in range(8):
        hub.publish("session", {"i": i}, session_id="s")
    assert hub.last_id == 8
    assert [e.id for e in hub.events_after(5) or []] == [6, 7, 8]
    assert hub.events_after(8) == []
    assert hub.events_after(3) == [e for e in hub._history if e.id > 3]
    assert hub.events_after(2) is None  # event 3 is gone: too old
    assert hub.events_after(99) is None  # an id this hub never issued


def test_frames_are_encoded_once_with_their_id() -> None:
    hub = EventHub()
    event = hub.publish("transition", {"to": "working"}, to_status="working")
    assert event.frame == b'id: 1\nevent: transition\ndata: {"to":"working"}\n\n'


def test_filters() -> None:
    hub = EventHub()
    claude = hub.subscribe(EventFilter(agent="claude"))
    waiting = hub.subscribe(EventFilter(status="waiting_for_input"))
    hub.publish("session", {}, agent="claude", session_id="a")
    hub.publish("transition", {}, agent="codex", session_id="b", to_status="waiting_for_input")
    hub.publish("transition", {}, agent="claude", session_id="a", to_status="working")
    assert claude.take().count(b"event:") == 2
    assert waiting.take().count(b"event:") == 1


def test_a_client_that_does_not_read_is_cut_off_alone() -> None:
    hub = EventHub(client_limit=3)
    cut: list[bool] = []
    slow = hub.subscribe(EventFilter())
    slow.on_overflow = lambda: cut.append(True)
    fast = hub.subscribe(EventFilter())
    for i in range(10):
        hub.publish("session", {"i": i})
        fast.take()
    assert slow.overflowed and cut == [True]
    assert not slow.backlog  # nothing more is held for it
    assert not fast.overflowed


def test_event_json_is_sliced_from_its_frame() -> None:
    event = EventHub().publish("session", {"id": "s1", "title": "naïve \u2028 text", "n": [1, 2]})
    assert json.loads(event.data_json) == event.data
