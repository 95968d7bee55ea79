"""One folder per agent (`sources/<agent>/`), each declaring an `AgentPlugin`.

`plugins()` is the registry the rest of sessiond is driven by: the engine's sources, the
hooks' payload mappers, the installer's recipes, the names on toasts.
"""

from __future__ import annotations

from sessiond.sources.base import AgentSource
from sessiond.sources.plugin import AgentPlugin


def plugins() -> dict[str, AgentPlugin]:
    """Every agent sessiond knows, by its `agent` name, in the order they are checked."""
    # Imported here so that importing `sessiond.sources` stays cheap (the hook forwarder
    # and the CLI import parts of it), and a broken agent module fails where it is used.
    from sessiond.sources.claude import PLUGIN as CLAUDE
    from sessiond.sources.codex import PLUGIN as CODEX
    from sessiond.sources.copilot import PLUGIN as COPILOT
    from sessiond.sources.cursor import PLUGIN as CURSOR
    from sessiond.sources.gemini import PLUGIN as GEMINI
    from sessiond.sources.opencode import PLUGIN as OPENCODE

    # Claude first: `inspect` tries formats in this order, and Claude's is the most common.
    found = [CLAUDE, CODEX, GEMINI, CURSOR, COPILOT, OPENCODE]
    return {p.agent: p for p in found}


def all_sources() -> list[AgentSource]:
    return [plugin.source() for plugin in plugins().values()]


def display_name(agent: str) -> str:
    """The agent's name as people see it ("Claude", "Codex"...)."""
    plugin = plugins().get(agent)
    return plugin.display_name if plugin is not None else agent
