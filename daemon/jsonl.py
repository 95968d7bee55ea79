"""Decoding JSON Lines as agents really write them.

A line may hold two objects glued together (a resume appended to a line whose newline
was never written), invalid UTF-8, NUL bytes or plain garbage. `decode_line` returns
every JSON object it can find and says whether anything was thrown away; it never
raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sessiond.protocol import JSONDict

_decoder = json.JSONDecoder()
_WHITESPACE = " \t\r\n\x00"


@dataclass(frozen=True, slots=True)
class DecodedLine:
    records: list[JSONDict]
    # True when part of the line was not JSON (or JSON that is not an object).
    had_garbage: bool


def decode_line(raw: bytes) -> DecodedLine:
    """All JSON objects in one line, in order. Garbage between them is skipped."""
    # errors="replace": one bad byte must not cost the whole line. Lone surrogates in
    # \u escapes survive json decoding; display code clips and re-encodes text safely.
    text = raw.decode("utf-8", errors="replace")
    records: list[JSONDict] = []
    garbage = "\ufffd" in text
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            break
        try:
            value, pos = _decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            garbage = True
            nxt = text.find("{", pos + 1)
            if nxt < 0:
                break
            pos = nxt
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            garbage = True
    return DecodedLine(records, garbage)
