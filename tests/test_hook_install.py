"""`sessiond hooks install|uninstall|status` on copies of real-looking settings files.

The files hold the user's own hooks and settings; the recipes are agent-hooks.md §1.7
(Claude Code), §2.1/§2.4 (Codex), §3 (Gemini CLI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sessiond.hooks.install import (
    HookInstallError,
    Setup,
    install,
    status,
    uninstall,
)
from sessiond.sources.claude.hooks import CLAUDE_EVENTS
from sessiond.sources.codex.hooks import CODEX_EVENTS
from sessiond.sources.gemini.hooks import GEMINI_EVENTS
from sessiond.sources.plugin import is_our_command, parse_version

from tests.daemon_proc import make_daemon

FORWARDER = ("/opt/sessiond/bin/sessiond-hook",)

CLAUDE_SETTINGS = """{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": [
      "Bash(npm run lint)",
      "Read(~/.zshrc)"
    ],
    "deny": [
      "Read(./.env)"
    ]
  },
  "env": {
    "CLAUDE_CODE_ENABLE_TELEMETRY": "0"
  },
  "model": "claude-sonnet-5",
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "~/.claude/hooks/check-bash.sh"
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "afplay /System/Library/Sounds/Glass.aiff"
          }
        ]
      }
    ]
  },
  "statusLine": {
    "type": "command",
    "command": "~/.claude/statusline.sh"
  },
  "alwaysThinkingEnabled": true
}
"""

CODEX_CONFIG = """# Codex configuration (~/.codex/config.toml)
model = "gpt-5.1-codex-max"
approval_policy = "on-request"
sandbox_mode = "workspace-write"

[sandbox_workspace_write]
network_access = true

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]

[profiles.fast]
model = "gpt-5.1-codex-mini"
"""

CODEX_HOOKS = """{
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send 'Codex is done'"
          }
        ]
      }
    ]
  }
}
"""

GEMINI_SETTINGS = """{
  "general": {
    "preferredEditor": "vim",
    "vimMode": true
  },
  "ui": {
    "theme": "GitHub"
  },
  "hooks": {
    "BeforeTool": [
      {
        "matcher": "write_file|replace",
        "hooks": [
          {
            "type": "command",
            "name": "lint-before-write",
            "command": "./scripts/lint.sh",
            "timeout": 30000
          }
        ]
      }
    ]
  },
  "hooksConfig": {
    "enabled": true
  }
}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(CLAUDE_SETTINGS)
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text(CODEX_CONFIG)
    (tmp_path / ".codex" / "hooks.json").write_text(CODEX_HOOKS)
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "settings.json").write_text(GEMINI_SETTINGS)
    return tmp_path


def setup_for(home: Path, **changes: Any) -> Setup:
    values: dict[str, Any] = {"env": {}, "home": home, "port": 7330, "token": "tok-123",
                              "forwarder": FORWARDER, "claude_version": None}  # fmt: skip
    values.update(changes)
    return Setup(**values)


def backups(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.sessiond-backup-*"))


# -- Claude Code ------------------------------------------------------------------------------


def test_claude_install_keeps_the_users_settings_and_uninstall_restores_them(home: Path) -> None:
    path = home / ".claude" / "settings.json"
    os.chmod(path, 0o640)
    changes = install("claude", setup_for(home))
    assert changes[0].changed and changes[0].path == path
    assert [b.read_text() for b in backups(path.parent)] == [CLAUDE_SETTINGS]
    # It now holds the token: made private, and the install says so (the backup too).
    assert os.stat(changes[0].backup or "").st_mode & 0o777 == 0o600
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    before = json.loads(CLAUDE_SETTINGS)
    for key in ("permissions", "env", "model", "statusLine", "alwaysThinkingEnabled", "$schema"):
        assert data[key] == before[key]
    assert list(data) == list(before)  # no key moved
    hooks = data["hooks"]
    assert set(hooks) == {e for e, _ in CLAUDE_EVENTS}
    # The user's groups first and untouched, ours appended after them.
    assert hooks["PreToolUse"][0] == before["hooks"]["PreToolUse"][0]
    assert hooks["Stop"][0] == before["hooks"]["Stop"][0]
    # PermissionRequest races the terminal dialog: sessiond may hold it (up to 590 s of 600).
    ours = hooks["PermissionRequest"][-1]["hooks"]
    assert ours == [{"type": "http", "url": "http://127.0.0.1:7330/hooks/claude?hold=590",
                     "headers": {"Authorization": "Bearer tok-123"}, "timeout": 600}]  # fmt: skip
    assert hooks["Stop"][-1]["hooks"][0]["timeout"] == 3  # every other event is answered at once
    start = hooks["SessionStart"][0]["hooks"][0]
    assert start["type"] == "command" and start["command"] == "/opt/sessiond/bin/sessiond-hook claude"
    assert any("made" in n and "private (0600)" in n for n in changes[0].notes)  # it was 0640

    # Installing again changes nothing at all: no write, no backup.
    written = path.read_bytes()
    again = install("claude", setup_for(home))
    assert not again[0].changed and path.read_bytes() == written
    assert len(backups(path.parent)) == 1

    # Uninstall removes exactly what install added: the original, byte for byte.
    removed = uninstall("claude", setup_for(home))
    assert removed[0].changed
    assert path.read_text() == CLAUDE_SETTINGS
    assert not uninstall("claude", setup_for(home))[0].changed


def test_claude_reinstall_repairs_in_place(home: Path) -> None:
    path = home / ".claude" / "settings.json"
    install("claude", setup_for(home))
    data = json.loads(path.read_text())
    # The user adds a group after ours; a new port and token must not move anything.
    data["hooks"]["PreToolUse"].append({"matcher": "Edit", "hooks": [{"type": "command", "command": "x"}]})
    path.write_text(json.dumps(data, indent=2) + "\n")
    install("claude", setup_for(home, port=7331, token="tok-456"))
    pre = json.loads(path.read_text())["hooks"]["PreToolUse"]
    assert [g.get("matcher") for g in pre] == ["Bash", None, "Edit"]
    assert pre[1]["hooks"][0]["url"] == "http://127.0.0.1:7331/hooks/claude"
    assert pre[1]["hooks"][0]["headers"] == {"Authorization": "Bearer tok-456"}
    report = status("claude", setup_for(home, port=7331, token="tok-456"))[0]
    assert len(report.installed) == len(CLAUDE_EVENTS) and not report.stale
    assert status("claude", setup_for(home, port=7330, token="tok-456"))[0].stale
    uninstall("claude", setup_for(home))
    hooks = json.loads(path.read_text())["hooks"]
    assert [g.get("matcher") for g in hooks["PreToolUse"]] == ["Bash", "Edit"]
    assert set(hooks) == {"PreToolUse", "Stop"}


def test_claude_events_follow_the_installed_version(home: Path) -> None:
    path = home / ".claude" / "settings.json"
    install("claude", setup_for(home, claude_version=(2, 0, 30)))
    hooks = json.loads(path.read_text())["hooks"]
    # Unknown event names made older Claude Code skip the whole file: none written.
    assert not {"PermissionRequest", "PostToolUseFailure", "StopFailure"} & set(hooks)
    # No http hooks before 2.1.63: every event runs the forwarder.
    assert {h["type"] for e in hooks for g in hooks[e] for h in g["hooks"]
            if is_our_command(h.get("command"), "claude")} == {"command"}  # fmt: skip
    install("claude", setup_for(home, claude_version=(2, 1, 70)))
    hooks = json.loads(path.read_text())["hooks"]
    assert "PermissionRequest" in hooks and "StopFailure" not in hooks
    assert hooks["PermissionRequest"][-1]["hooks"][0]["type"] == "http"
    uninstall("claude", setup_for(home))
    assert path.read_text() == CLAUDE_SETTINGS


def test_invalid_json_is_refused_untouched(home: Path) -> None:
    path = home / ".claude" / "settings.json"
    broken = CLAUDE_SETTINGS.replace('"model": "claude-sonnet-5",', '"model": "claude-sonnet-5"')
    path.write_text(broken)
    with pytest.raises(HookInstallError) as caught:
        install("claude", setup_for(home))
    message = str(caught.value)
    assert "not valid JSON" in message and message.count(". ") == 0 and message.endswith(".")
    assert path.read_text() == broken and backups(path.parent) == []
    path.write_text("[1, 2]\n")
    with pytest.raises(HookInstallError):
        install("claude", setup_for(home))
    path.write_text('{"hooks": {"Stop": {"hooks": []}}}')
    with pytest.raises(HookInstallError):
        install("claude", setup_for(home))


def test_a_symlinked_settings_file_is_written_through(home: Path) -> None:
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "claude-settings.json"
    real.write_text(CLAUDE_SETTINGS)
    link = home / ".claude" / "settings.json"
    link.unlink()
    link.symlink_to(real)
    changes = install("claude", setup_for(home))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "PermissionRequest" in json.loads(real.read_text())["hooks"]
    assert changes[0].backup is not None and changes[0].backup.parent == dotfiles
    uninstall("claude", setup_for(home))
    assert link.is_symlink() and real.read_text() == CLAUDE_SETTINGS


def test_a_missing_settings_file_is_created_private(tmp_path: Path) -> None:
    changes = install("claude", setup_for(tmp_path))
    path = tmp_path / ".claude" / "settings.json"
    assert changes[0].changed and changes[0].backup is None
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the token
    assert "hooks" in json.loads(path.read_text())


# -- Codex ------------------------------------------------------------------------------------


def test_codex_install_adds_notify_and_hooks_then_removes_exactly_them(home: Path) -> None:
    config = home / ".codex" / "config.toml"
    hooks_file = home / ".codex" / "hooks.json"
    changes = install("codex", setup_for(home))
    assert {c.path for c in changes if c.changed} == {config, hooks_file}
    text = config.read_text()
    parsed = tomllib.loads(text)
    assert parsed["notify"] == ["/opt/sessiond/bin/sessiond-hook", "codex"]
    assert {k: v for k, v in parsed.items() if k != "notify"} == tomllib.loads(CODEX_CONFIG)
    # A top-level key: before the first table, never inside it.
    assert text.index("notify = ") < text.index("[sandbox_workspace_write]")
    hooks = json.loads(hooks_file.read_text())["hooks"]
    assert set(hooks) == set(CODEX_EVENTS)
    assert hooks["Stop"][0]["hooks"][0]["command"] == "notify-send 'Codex is done'"
    assert hooks["Stop"][1]["hooks"] == [{"type": "command",
                                          "command": "/opt/sessiond/bin/sessiond-hook codex", "timeout": 5}]
    assert hooks["SessionEnd"][0]["hooks"][0]["timeout"] == 2
    assert any("/hooks" in note for c in changes for note in c.notes)  # trust them in Codex
    assert len(backups(home / ".codex")) == 2

    before = (config.read_bytes(), hooks_file.read_bytes())
    assert not any(c.changed for c in install("codex", setup_for(home)))
    assert (config.read_bytes(), hooks_file.read_bytes()) == before

    uninstall("codex", setup_for(home))
    assert config.read_text() == CODEX_CONFIG
    assert hooks_file.read_text() == CODEX_HOOKS


def test_codex_notify_of_another_tool_is_never_replaced(home: Path) -> None:
    config = home / ".codex" / "config.toml"
    theirs = 'notify = ["terminal-notifier", "-title", "Codex"]\n' + CODEX_CONFIG
    config.write_text(theirs)
    with pytest.raises(HookInstallError) as caught:
        install("codex", setup_for(home))
    assert "another program" in str(caught.value)
    # Nothing written, hooks.json included.
    assert config.read_text() == theirs
    assert (home / ".codex" / "hooks.json").read_text() == CODEX_HOOKS
    assert backups(home / ".codex") == []
    # And uninstall leaves it alone too.
    uninstall("codex", setup_for(home))
    assert config.read_text() == theirs


def test_codex_invalid_toml_and_a_fresh_codex_home(home: Path, tmp_path: Path) -> None:
    config = home / ".codex" / "config.toml"
    config.write_text('model = "gpt-5\n[broken\n')
    with pytest.raises(HookInstallError) as caught:
        install("codex", setup_for(home))
    assert "not valid TOML" in str(caught.value)
    assert config.read_text() == 'model = "gpt-5\n[broken\n'
    # No ~/.codex at all (CODEX_HOME elsewhere): both files are created.
    codex_home = tmp_path / "elsewhere"
    setup = setup_for(tmp_path / "nohome", env={"CODEX_HOME": str(codex_home)})
    install("codex", setup)
    assert tomllib.loads((codex_home / "config.toml").read_text())["notify"][-1] == "codex"
    assert status("codex", setup)[1].installed == ["notify"]
    uninstall("codex", setup)
    assert (codex_home / "config.toml").read_text() == ""


def test_codex_notify_line_is_repaired_in_place(home: Path) -> None:
    config = home / ".codex" / "config.toml"
    install("codex", setup_for(home))
    install("codex", setup_for(home, forwarder=("/usr/local/bin/sessiond-hook", "--state-dir", "/s d")))
    parsed = tomllib.loads(config.read_text())
    assert parsed["notify"] == ["/usr/local/bin/sessiond-hook", "--state-dir", "/s d", "codex"]
    assert config.read_text().count("notify") == 1
    uninstall("codex", setup_for(home))
    assert config.read_text() == CODEX_CONFIG


# -- Gemini CLI -------------------------------------------------------------------------------------


def test_gemini_install_and_uninstall(home: Path) -> None:
    path = home / ".gemini" / "settings.json"
    install("gemini", setup_for(home))
    data = json.loads(path.read_text())
    assert data["general"] == {"preferredEditor": "vim", "vimMode": True}
    assert data["hooksConfig"] == {"enabled": True}
    hooks = data["hooks"]
    assert set(hooks) == {e for e, _, _ in GEMINI_EVENTS}
    assert hooks["BeforeTool"][0]["hooks"][0]["name"] == "lint-before-write"
    assert hooks["BeforeTool"][1] == {"matcher": "*", "hooks": [
        {"type": "command", "name": "sessiond-before-tool", "timeout": 3000,
         "command": "/opt/sessiond/bin/sessiond-hook gemini"}]}  # fmt: skip
    assert "matcher" not in hooks["AfterAgent"][0]
    written = path.read_bytes()
    assert not install("gemini", setup_for(home))[0].changed
    assert path.read_bytes() == written
    report = status("gemini", setup_for(home))[0]
    assert len(report.installed) == len(GEMINI_EVENTS) and not report.stale
    uninstall("gemini", setup_for(home))
    assert path.read_text() == GEMINI_SETTINGS


def test_our_commands_are_told_apart() -> None:
    assert is_our_command("/opt/x/bin/sessiond-hook codex", "codex")
    assert is_our_command("'/my dir/sessiond-hook' --state-dir /s gemini", "gemini")
    assert is_our_command(["/usr/bin/python3", "-m", "sessiond.hooks.forward", "codex"], "codex")
    # Hooks installed by releases before the hooks/ package name the old module.
    assert is_our_command(["/usr/bin/python3", "-m", "sessiond.hook_forward", "codex"], "codex")
    assert is_our_command("/usr/local/bin/sessiond hook claude", "claude")
    assert not is_our_command("/opt/x/bin/sessiond-hook codex", "gemini")
    assert not is_our_command(["terminal-notifier", "codex"], "codex")
    assert not is_our_command("notify-send done", "claude")
    assert not is_our_command("unbalanced 'quote", "claude")


# -- the command line --------------------------------------------------------------------------------


def test_the_cli_installs_reports_and_uninstalls(home: Path) -> None:
    proc = make_daemon(home / "d")
    env = {**proc.env, "HOME": str(home), "PATH": os.path.dirname(sys.executable)}
    for key in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        env.pop(key)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sessiond", *args], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    done = cli("hooks", "install")
    assert done.returncode == 0, done.stderr
    assert "claude: installed in" in done.stdout and "gemini: installed in" in done.stdout
    token = (proc.state_dir / "token").read_text().strip()
    claude = json.loads((home / ".claude" / "settings.json").read_text())["hooks"]
    handler = claude["Stop"][-1]["hooks"][0]
    assert handler["headers"] == {"Authorization": f"Bearer {token}"}
    assert handler["url"] == "http://127.0.0.1:7330/hooks/claude"  # the port it will use
    forwarder = str(Path(sys.executable).parent / "sessiond-hook")
    notify = tomllib.loads((home / ".codex" / "config.toml").read_text())["notify"]
    assert notify == [forwarder, "--state-dir", str(proc.state_dir), "codex"]

    # The daemon runs (on another port: install again, the URL follows) and hears Claude.
    proc.start()
    try:
        again = cli("hooks", "install", "--agent", "claude")
        assert again.returncode == 0 and "installed in" in again.stdout
        url = json.loads((home / ".claude" / "settings.json").read_text())["hooks"]["Stop"][-1]["hooks"][0]
        assert url["url"] == f"http://127.0.0.1:{proc.port}/hooks/claude"
        payload = json.dumps({"session_id": "s1", "hook_event_name": "Stop", "cwd": "/w/app"})
        sent = subprocess.run([forwarder, "--state-dir", str(proc.state_dir), "claude"], input=payload,
                              text=True, capture_output=True, timeout=30)  # fmt: skip
        assert (sent.returncode, sent.stdout, sent.stderr) == (0, "", "")
        report = cli("hooks", "status", "--json")
        assert report.returncode == 0, report.stderr
        body = json.loads(report.stdout)
        assert body["daemon_running"] is True
        assert body["agents"]["claude"]["last_heard"] is not None
        assert body["agents"]["gemini"]["last_heard"] is None
        assert body["agents"]["codex"]["files"][1]["installed"] == ["notify"]
        text = cli("hooks", "status", "--agent", "claude").stdout
        assert "installed (12 of 12 events)" in text and "last heard" in text
    finally:
        proc.kill()

    assert cli("hooks", "uninstall").returncode == 0
    assert (home / ".claude" / "settings.json").read_text() == CLAUDE_SETTINGS
    assert (home / ".codex" / "config.toml").read_text() == CODEX_CONFIG
    assert (home / ".codex" / "hooks.json").read_text() == CODEX_HOOKS
    assert (home / ".gemini" / "settings.json").read_text() == GEMINI_SETTINGS
    assert "not running" in cli("hooks", "status").stdout

    (home / ".gemini" / "settings.json").write_text("{ not json")
    bad = cli("hooks", "install", "--agent", "gemini")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().startswith("gemini: ") and bad.stderr.strip().count("\n") == 0
    assert parse_version("2.1.240 (Claude Code)") == (2, 1, 240)


def test_install_without_agent_touches_only_the_agents_that_are_there(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    proc = make_daemon(tmp_path / "d")
    env = {**proc.env, "HOME": str(tmp_path), "PATH": os.path.dirname(sys.executable)}
    for key in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        env.pop(key)
    done = subprocess.run([sys.executable, "-m", "sessiond", "hooks", "install"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "claude: installed in" in done.stdout
    assert f"codex: skipped (no {tmp_path / '.codex'} and no `codex` on PATH" in done.stdout
    assert f"gemini: skipped (no {tmp_path / '.gemini'} and no `gemini` on PATH" in done.stdout
    assert not (tmp_path / ".codex").exists() and not (tmp_path / ".gemini").exists()
    # Asked for by name, an agent is installed even before its folder exists.
    named = subprocess.run([sys.executable, "-m", "sessiond", "hooks", "install", "--agent", "gemini"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert named.returncode == 0 and (tmp_path / ".gemini" / "settings.json").exists()
