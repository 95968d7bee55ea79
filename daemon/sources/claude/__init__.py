"""Claude: its transcript rules (`transcript`), its hooks (`hooks`), and its plugin."""

from __future__ import annotations

from sessiond.sources.claude import hooks
from sessiond.sources.claude.transcript import ClaudeSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="claude",
    display_name="Claude",
    process_names=("claude", "@anthropic-ai/claude-code"),
    source=ClaudeSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    hook_recipe=hooks.RECIPE,
)
