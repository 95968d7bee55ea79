"""Cursor: its transcript rules (`transcript`), its hooks (`hooks`), and its plugin."""

from __future__ import annotations

from sessiond.sources.cursor import hooks
from sessiond.sources.cursor.transcript import CursorSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="cursor",
    display_name="Cursor",
    process_names=("cursor-agent",),
    source=CursorSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    hook_recipe=None,
)
