"""One agent, one plugin: everything sessiond knows about an agent, in one object.

Each `sources/<agent>/` folder declares an `AgentPlugin`: its transcript rules (an
`AgentSource`), how its hook payloads map to statuses, which session a payload is about,
the recipe `sessiond hooks install` writes into its settings, and the name people see.
The registry (`sources.plugins()`) drives the engine, the hooks route, the installer and
the notifier, and `tests/test_agent_plugins.py` checks that every agent has every part.

Pure: no I/O here or in the parts (the installer does the file editing).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, Agent, PendingTool, Status, clip, tool_input
from sessiond.sources.base import AgentSource

Version = tuple[int, ...]
# What a hook mapper returns: the status the event implies (None: none), the reason, and
# extras: "tool" (a PendingTool), "only_if_working" (bool).
Mapped = tuple["Status | None", str, dict[str, Any]]
HookMapper = Callable[[str, Mapping[str, Any]], Mapped]
# The hook settings' entries, by event: {"SessionStart": {"hooks": [handler]}, ...}
HookGroups = dict[str, dict[str, Any]]

_OUR_URL = re.compile(r"http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+/hooks/([a-z]+)(?:\?hold=\d+)?")
_FORWARDER_NAMES = ("sessiond-hook", "sessiond-hook.exe")
# `python -m …` forms: the current module, and the one hooks installed by earlier
# releases name (kept as a shim, so those hooks keep working and are still ours).
_FORWARDER_MODULES = ("sessiond.hooks.forward", "sessiond.hook_forward")


@dataclass(frozen=True, slots=True)
class HookSetup:
    """Where the agents keep their settings, and what our entries must say."""

    env: Mapping[str, str]
    home: Path
    port: int
    token: str
    forwarder: tuple[str, ...]  # argv of `sessiond-hook`, without the agent
    claude_version: Version | None = None  # None: unknown, taken to be current
    # The daemon's state dir (a plugin that reads runtime.json itself needs it).
    state_dir: Path | None = None

    @property
    def claude_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/claude"

    def command(self, agent: str) -> str:
        return shlex.join([*self.forwarder, agent])


@dataclass(frozen=True, slots=True)
class HookRecipe:
    """What `sessiond hooks install` writes for an agent whose hooks live in a JSON file."""

    settings_file: Callable[[Mapping[str, str], Path], Path]  # (env, home) -> the file
    groups: Callable[[HookSetup], HookGroups]
    ours: Callable[[dict[str, Any]], bool]  # is this handler one of ours?


@dataclass(frozen=True, slots=True)
class PluginFileRecipe:
    """What `sessiond hooks install` writes for an agent whose hooks are a file of sessiond's
    own (OpenCode's JavaScript plugins): the whole file is ours, written or removed."""

    path: Callable[[Mapping[str, str], Path], Path]  # (env, home) -> the file
    render: Callable[[HookSetup], str]


@dataclass(frozen=True, slots=True)
class AgentPlugin:
    agent: Agent
    display_name: str
    source: Callable[[], AgentSource]
    map_hook: HookMapper
    # The engine's session id for a hook payload ("" when it names none).
    session_key: Callable[[Mapping[str, Any]], str]
    # None: sessiond does not install this agent's hooks (Cursor: set up in Cursor).
    hook_recipe: HookRecipe | None = None
    # Or a file of our own in the agent's plugin folder (OpenCode).
    plugin_file: PluginFileRecipe | None = None
    # How its process is recognised (`sessiond.terminals.matching`): a program name (the
    # executable, or the script an interpreter runs: `node …/claude`), or a package path
    # part (`@anthropic-ai/claude-code` in `node …/@anthropic-ai/claude-code/cli.js`).
    process_names: tuple[str, ...] = ()
    # The keys its own approval prompt takes for (allow, deny), when typing them into its
    # terminal answers it (None: no such prompt sessiond can drive).
    approval_keys: tuple[str, str] | None = None


# -- helpers the agents' hook mappers share ------------------------------------------------


def text(value: object) -> str:
    return value if isinstance(value, str) else ""


def first_text(data: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return next((data[k] for k in keys if isinstance(data.get(k), str) and data[k]), "")


def tool_name(tool: PendingTool | None) -> str:
    return tool.name if tool else "a tool"


def is_our_command(command: object, agent: str) -> bool:
    """Is this command (a string, or an argv list) a sessiond forwarder for `agent`?"""
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError:
            return False
    elif isinstance(command, list) and all(isinstance(a, str) for a in command):
        argv = list(command)
    else:
        return False
    if len(argv) < 2 or argv[-1] != agent:
        return False
    names = [os.path.basename(a) for a in argv[:-1]]
    if any(n in _FORWARDER_NAMES for n in names) or any(m in argv for m in _FORWARDER_MODULES):
        return True
    return any(n == "sessiond" and argv[i + 1 : i + 2] == ["hook"] for i, n in enumerate(names))


def is_our_url(url: object, agent: str) -> bool:
    return isinstance(url, str) and (m := _OUR_URL.fullmatch(url)) is not None and m.group(1) == agent


@functools.lru_cache(maxsize=64)  # every Claude line repeats its version: parse each once
def parse_version(text: str) -> Version | None:
    """`2.1.240 (Claude Code)` -> (2, 1, 240); the first dotted number, up to three parts."""
    found = re.search(r"\d+(?:\.\d+){0,2}", text)
    return tuple(int(part) for part in found.group().split(".")) if found else None


def agent_root(env: Mapping[str, str], variable: str, default: Path) -> Path:
    """An agent's root: its environment variable when set, else its default folder."""
    base = env.get(variable, "").strip()
    return Path(base).expanduser() if base else default


# Which tool input field describes a pending tool best, for agents other than Claude
# (Claude's own transcript rules are reused so both paths show the same summary).
_SUMMARY_KEYS = ("command", "cmd", "file_path", "path", "absolute_path", "notebook_path",
                 "url", "query", "pattern", "description", "prompt")  # fmt: skip


def pending_tool(p: Mapping[str, Any]) -> PendingTool | None:
    """The tool a hook payload names (`tool_name`, `tool_input`), summarised the common way."""
    name = p.get("tool_name")
    if not isinstance(name, str) or not name:
        return None
    raw = p.get("tool_input")
    summary = ""
    if isinstance(raw, dict):
        value = next((raw[k] for k in _SUMMARY_KEYS if raw.get(k)), None)
        if isinstance(value, list):
            value = " ".join(str(part) for part in value)
        if isinstance(value, str):
            summary = value
        elif raw:
            summary = json.dumps(raw, ensure_ascii=False, default=str)[: MAX_SUMMARY * 2]
    elif isinstance(raw, str):
        summary = raw
    return PendingTool(clip(name, MAX_SUMMARY), clip(summary or name, MAX_SUMMARY), input=tool_input(raw))
