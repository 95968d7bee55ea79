"""One module per agent format; `ALL_SOURCES` is the list the daemon watches."""

from __future__ import annotations

from sessiond.sources.base import AgentSource


def all_sources() -> list[AgentSource]:
    # Imported here so a broken agent module shows up as one failing source,
    # not as a daemon that cannot import.
    from sessiond.sources.claude import ClaudeSource
    from sessiond.sources.codex import CodexSource
    from sessiond.sources.cursor import CursorSource
    from sessiond.sources.gemini import GeminiSource

    return [ClaudeSource(), CodexSource(), GeminiSource(), CursorSource()]
