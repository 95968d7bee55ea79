"""Gemini: its transcript rules (`transcript`), its hooks (`hooks`), and its plugin."""

from __future__ import annotations

from sessiond.sources.gemini import hooks
from sessiond.sources.gemini.transcript import GeminiSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="gemini",
    display_name="Gemini",
    process_names=("gemini", "@google/gemini-cli"),
    source=GeminiSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    hook_recipe=hooks.RECIPE,
)
