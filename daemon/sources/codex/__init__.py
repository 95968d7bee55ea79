"""Codex: its transcript rules (`transcript`), its hooks (`hooks`), and its plugin."""

from __future__ import annotations

from sessiond.sources.codex import hooks
from sessiond.sources.codex.transcript import CodexSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="codex",
    display_name="Codex",
    source=CodexSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    hook_recipe=hooks.RECIPE,
)
