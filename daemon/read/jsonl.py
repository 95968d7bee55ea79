"""Decoding JSON Lines as agents really write them.

A line may hold two objects glued together (a resume appended to a line whose newline
was never written), invalid UTF-8, NUL bytes or plain garbage. `decode_line` returns
every JSON object it can find and says whether anything was thrown away; it never
raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sessiond.protocol import JSONDict

_decoder = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\r\n\x00]*")
# Where an object can start when resynchronising after garbage: `{` then a key or `}`.
# Inside a JSON string a quote is escaped (`{\"`), so text that merely contains braces
# (code in a tool result) is not retried brace by brace.
_OBJECT_START = re.compile(r"\{[ \t\r\n]*[\"}]")
# A line of nothing but failed starts (`{"{"{"...`, a deeply nested torn object) would
# otherwise cost one failed parse per start, each O(line) for the error's position: the
# rest of the line is given up after this many failures.
MAX_FAILURES = 32
# A line this long is looked at before it is decoded: one of mostly brackets (`[[]...]`,
# 15 MB of empty lists cost 371 MB to decode) is skipped as garbage. Real lines with big
# tool outputs hold their brackets inside strings, far more thinly.
CHECKED_OVER = 1024 * 1024


def too_many_containers(raw: bytes) -> bool:
    """Would decoding this build an unreasonable number of lists and objects?"""
    containers = raw.count(b"[") + raw.count(b"{")
    return containers > 100_000 and containers * 16 > len(raw)


@dataclass(frozen=True, slots=True)
class DecodedLine:
    records: list[JSONDict]
    # True when part of the line was not JSON (or JSON that is not an object).
    had_garbage: bool


def decode_line(raw: bytes) -> DecodedLine:
    """All JSON objects in one line, in order. Garbage between them is skipped."""
    if len(raw) > CHECKED_OVER and too_many_containers(raw):
        return DecodedLine([], True)
    # errors="replace": one bad byte must not cost the whole line. (A U+FFFD the agent
    # really wrote is text, not garbage: only a failed strict decode counts.) Lone
    # surrogates in \u escapes survive json decoding; display code clips them safely.
    try:
        text = raw.decode("utf-8")
        garbage = False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        garbage = True
    records: list[JSONDict] = []
    pos, end = 0, len(text)
    failures = 0
    while pos < end:
        blank = _WHITESPACE.match(text, pos)
        pos = blank.end() if blank else pos
        if pos >= end:
            break
        try:
            value, pos = _decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            # ValueError: JSONDecodeError, and also an integer of more than 4300 digits.
            garbage = True
            failures += 1
            found = _OBJECT_START.search(text, pos + 1) if failures < MAX_FAILURES else None
            if found is None:
                break
            pos = found.start()
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            garbage = True
            failures += 1  # `0 0 0 ...`: bounded like garbage
            if failures >= MAX_FAILURES:
                break
    return DecodedLine(records, garbage)
