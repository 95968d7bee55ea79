"""GitHub Copilot CLI: its event-log rules (`transcript`), its hooks (`hooks`), its plugin."""

from __future__ import annotations

from sessiond.sources.copilot import hooks
from sessiond.sources.copilot.transcript import CopilotSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="copilot",
    display_name="Copilot",
    process_names=("copilot", "@github/copilot"),
    source=CopilotSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    hook_recipe=None,
)
