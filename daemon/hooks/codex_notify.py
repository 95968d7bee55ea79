"""Codex's legacy `notify` program in `config.toml`: set, recognised and removed.

Older Codex versions report only through `notify = [...]` (agent-hooks.md §2.1).
The file is edited as text, line by line, so the user's comments and layout survive;
`tomllib` checks the result. Only our own `notify` is ever replaced or removed.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from sessiond.sources.codex.transcript import codex_home
from sessiond.sources.plugin import HookSetup as Setup
from sessiond.sources.plugin import is_our_command


class HookInstallError(Exception):
    """A settings file cannot be changed safely; the message is one sentence for the user."""



def codex_config(setup: Setup) -> Path:
    return codex_home(setup.env, setup.home) / "config.toml"


def load_toml(path: Path, raw: bytes | None) -> tuple[dict[str, Any], str]:
    if raw is None:
        return {}, ""
    try:
        text = raw.decode("utf-8")
        return tomllib.loads(text), text
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HookInstallError(
            f"{path} is not valid TOML ({exc}), so sessiond will not touch it; fix it and run this again."
        ) from exc


def toml_string(text: str) -> str:
    # A TOML basic string: JSON's escapes minus the \\uD83D surrogate pairs, which TOML
    # lacks (so non-ASCII is written as itself).
    return json.dumps(text, ensure_ascii=False)


def notify_line(setup: Setup) -> str:
    argv = [*setup.forwarder, "codex"]
    return "notify = [" + ", ".join(toml_string(a) for a in argv) + "]"


_NOTIFY_KEY = re.compile(r"^[ \t]*notify[ \t]*=")
_TABLE_HEADER = re.compile(r"^[ \t]*\[")


def with_notify(path: Path, text: str, parsed: dict[str, Any], setup: Setup) -> str:
    """`text` with our top-level `notify` line (added before the first table, or repaired)."""
    line = notify_line(setup)
    wanted = [*setup.forwarder, "codex"]
    current = parsed.get("notify")
    if current is not None and not is_our_command(current, "codex"):
        raise HookInstallError(
            f"{path} already sets notify = {json.dumps(current)} for another program, and Codex "
            "runs only one, so sessiond will not replace it (its hooks.json entries need no notify)."
        )
    if current == wanted:
        return text
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if current is not None:
        spots = [i for i, ln in enumerate(lines) if _NOTIFY_KEY.match(ln) and line_value(ln) == current]
        if len(spots) != 1:
            raise HookInstallError(f"Cannot find the notify line sessiond wrote in {path}; edit it by hand.")
        ending = lines[spots[0]][len(lines[spots[0]].rstrip("\r\n")) :] or eol
        lines[spots[0]] = line + ending
        candidates = ["".join(lines)]
    else:
        first_table = next((i for i, ln in enumerate(lines) if _TABLE_HEADER.match(ln)), len(lines))
        if lines and not lines[-1].endswith("\n") and first_table == len(lines):
            lines[-1] += eol
        # Before the first table header: a top-level key after one lands in that table.
        # If the scan was fooled (a multi-line array), the very top is always top-level.
        candidates = ["".join([*lines[:first_table], line + eol, *lines[first_table:]]),
                      "".join([line + eol, *lines])]  # fmt: skip
    found = _first_parsing_as(candidates, {**parsed, "notify": wanted})
    if found is None:
        raise HookInstallError(f"Cannot add notify to {path} safely; add it by hand: {line}")
    return found


def without_notify(path: Path, text: str, parsed: dict[str, Any]) -> str:
    current = parsed.get("notify")
    if current is None or not is_our_command(current, "codex"):
        return text
    lines = text.splitlines(keepends=True)
    kept = [ln for ln in lines if not (_NOTIFY_KEY.match(ln) and line_value(ln) == current)]
    found = _first_parsing_as(["".join(kept)], {k: v for k, v in parsed.items() if k != "notify"})
    if found is None:
        raise HookInstallError(f"Cannot remove sessiond's notify line from {path} safely; remove it by hand.")
    return found


def _first_parsing_as(candidates: list[str], expected: dict[str, Any]) -> str | None:
    """The first edited text that parses to exactly `expected`: the proof that a
    line-level edit changed `notify` and nothing else in the user's config."""
    for candidate in candidates:
        try:
            if tomllib.loads(candidate) == expected:
                return candidate
        except tomllib.TOMLDecodeError:
            continue
    return None


def line_value(line: str) -> object:
    try:
        return tomllib.loads(line).get("notify")
    except tomllib.TOMLDecodeError:
        return None


