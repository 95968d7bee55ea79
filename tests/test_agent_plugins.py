"""Every agent is one plugin (`sources/<agent>/`), and every part of sessiond that lists
agents agrees with the registry: a new agent missing one part fails here, by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sessiond.hooks import forward
from sessiond.hooks.install import HOOK_AGENTS
from sessiond.protocol import AGENTS
from sessiond.sources import display_name, plugins
from sessiond.sources.base import watched_roots
from sessiond.sources.plugin import HookSetup

REGISTERED = list(plugins())
NAMES_JS = Path(__file__).resolve().parent.parent / "ui" / "names.js"


def test_the_registry_is_the_contract_s_agent_list() -> None:
    assert tuple(REGISTERED) == AGENTS
    # The forwarder imports only the standard library (it must start fast), so it keeps
    # its own list: it must name the same agents.
    assert tuple(forward.AGENTS) == AGENTS


@pytest.mark.parametrize("agent", REGISTERED)
def test_each_agent_implements_every_part(agent: str, tmp_path: Path) -> None:
    plugin = plugins()[agent]
    assert plugin.agent == agent
    # Transcript rules: a source for this agent, with roots under the given home.
    source = plugin.source()
    assert source.agent == agent
    roots = watched_roots(source, {}, tmp_path, tmp_path / "state")
    assert roots and all(root.is_relative_to(tmp_path) for root in roots)
    # Hook payloads: an unknown event maps to no status; a payload without ids names no session.
    assert plugin.map_hook("NoSuchEvent", {}) == (None, "", {})
    assert plugin.session_key({}) == ""
    # The name people see, on toasts and in the panel.
    assert plugin.display_name and display_name(agent) == plugin.display_name
    board_names = dict(re.findall(r"(\w+): \"([^\"]+)\"", _board_agent_names()))
    assert board_names.get(agent) == plugin.display_name, f"ui/names.js AGENT_NAMES lacks {agent}"


def test_the_installer_covers_exactly_the_agents_with_a_recipe() -> None:
    assert tuple(a for a in REGISTERED if plugins()[a].hook_recipe is not None
                 or plugins()[a].plugin_file is not None) == HOOK_AGENTS
    assert "cursor" not in HOOK_AGENTS  # Cursor's hooks are set up in Cursor itself


@pytest.mark.parametrize("agent", [a for a in HOOK_AGENTS if plugins()[a].hook_recipe is not None])
def test_install_recipes_write_only_our_own_entries(agent: str, tmp_path: Path) -> None:
    recipe = plugins()[agent].hook_recipe
    assert recipe is not None
    setup = HookSetup(env={}, home=tmp_path, port=7330, token="t", forwarder=("/bin/sessiond-hook",))
    assert recipe.settings_file({}, tmp_path).is_relative_to(tmp_path)
    groups = recipe.groups(setup)
    assert groups
    for event, group in groups.items():
        for handler in group["hooks"]:
            assert recipe.ours(handler), f"{agent} {event}: the installer would not recognise its own entry"
    assert not recipe.ours({"type": "command", "command": "/usr/bin/other-tool"})


def _board_agent_names() -> str:
    found = re.search(r"const AGENT_NAMES = \{([^}]*)\}", NAMES_JS.read_text(encoding="utf-8"))
    assert found, "ui/names.js has no AGENT_NAMES"
    return found.group(1)


def test_the_panel_s_card_fields_are_session_fields() -> None:
    """`ui/names.js` CARD_FIELDS (what a card shows) names fields a Session really has."""
    from datetime import UTC, datetime

    from sessiond.protocol import Session

    found = re.search(r"export const CARD_FIELDS = \[([^\]]*)\]", NAMES_JS.read_text(encoding="utf-8"))
    assert found, "ui/names.js has no CARD_FIELDS"
    fields = re.findall(r'"(\w+)"', found.group(1))
    now = datetime.now(UTC)
    keys = Session(id="s", agent="claude", status="working", status_since=now, last_activity=now).to_json()
    assert fields and set(fields) <= set(keys)
