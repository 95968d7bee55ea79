"""Decoding lines as agents really write them."""

from sessiond.read.jsonl import decode_line


def test_two_objects_glued_on_one_line() -> None:
    # As in corpus/claude/entireio__cli__37-995ebed6e4-2-full.jsonl L128.
    decoded = decode_line(b'{"type":"assistant","n":1}{"type":"summary","summary":"t"}')
    assert [r["type"] for r in decoded.records] == ["assistant", "summary"]
    assert not decoded.had_garbage


def test_garbage_and_invalid_utf8_are_skipped() -> None:
    decoded = decode_line(b'\xff\xfe garbage {"ok": true} trailing junk')
    assert decoded.records == [{"ok": True}]
    assert decoded.had_garbage


def test_non_object_json_and_nul_bytes() -> None:
    assert decode_line(b"[1,2,3]").records == []
    assert decode_line(b'\x00\x00{"a":1}\x00').records == [{"a": 1}]


def test_deeply_nested_json_does_not_raise() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert decode_line(deep).records == []
    assert decode_line(b'{"a":' * 50_000).records == []


def test_a_replacement_character_the_agent_wrote_is_text_not_garbage() -> None:
    # Found by the property test: U+FFFD in a string (a tool output that had bad bytes)
    # was counted as garbage, so a valid line warned "skipping bytes that are not JSON".
    decoded = decode_line('{"text": "caf\ufffd", "\ufffd": null}'.encode())
    assert decoded.records == [{"text": "caf\ufffd", "\ufffd": None}]
    assert not decoded.had_garbage
    assert decode_line(b'{"text": "caf\xe9"}').had_garbage  # invalid UTF-8 still is
