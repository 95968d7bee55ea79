"""Copilot CLI's hooks. Its `preToolUse`/`postToolUse` hooks (in `.github/hooks/*.json` of a
repository) cannot be installed for the user the way Claude's or Codex's can, and every
state they would tell is in the session's own event log already (permission requests
included, exactly); so sessiond installs none and maps none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessiond.sources.plugin import Mapped, text


def session_key(payload: Mapping[str, Any]) -> str:
    return text(payload.get("sessionId")) or text(payload.get("session_id"))


def map_hook(event: str, p: Mapping[str, Any]) -> Mapped:
    return None, "", {}
