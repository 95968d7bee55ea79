"""Codex: its transcript rules (`transcript`), its hooks (`hooks`), and its plugin."""

from __future__ import annotations

from sessiond.sources.codex import hooks
from sessiond.sources.codex.transcript import CodexSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="codex",
    display_name="Codex",
    process_names=("codex", "@openai/codex"),
    # Its TUI's approval prompt (codex-rs/tui/src/bottom_pane/approval_overlay.rs): "y"
    # approves once; "n" declines ("No, and tell Codex what to do differently"), the one
    # refusal every kind of request (command, patch, permissions) offers.
    approval_keys=("y", "n"),
    source=CodexSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    hook_recipe=hooks.RECIPE,
)
