"""OpenCode (sst/opencode): the records its storage becomes (`records`; the reading itself is
in `sessiond.mirror`), the rules over them (`transcript`), its plugin events (`hooks`)."""

from __future__ import annotations

from sessiond.sources.opencode import hooks
from sessiond.sources.opencode.transcript import OpenCodeSource
from sessiond.sources.plugin import AgentPlugin

PLUGIN = AgentPlugin(
    agent="opencode",
    display_name="OpenCode",
    # `opencode` is the binary npm's `opencode-ai` installs (a launcher script of the
    # same name runs it); the package path names it when run through node.
    process_names=("opencode", "opencode-ai"),
    source=OpenCodeSource,
    map_hook=hooks.map_hook,
    session_key=hooks.session_key,
    plugin_file=hooks.RECIPE,
)
