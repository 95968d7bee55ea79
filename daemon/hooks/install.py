"""`sessiond hooks install | uninstall | status`: the hook entries in the agents' own settings.

Recipes: shared/docs/agent-hooks.md §1.7 (Claude Code), §2.1 and §2.4 (Codex), §3 (Gemini
CLI). Every edit follows the same rules:

- the user's file is the user's: every other key, hook and group stays as it is, in its
  order; our entries are appended after the user's (Codex trusts hooks by position);
- our entries are told apart by their text (our URL, our forwarder command), never by
  a marker key the agent might reject;
- a file that is not valid JSON / TOML is refused with one sentence, untouched;
- the file is backed up first (`<file>.sessiond-backup-<UTC time>`, same mode), then
  written atomically (temp file in the same directory, fsync, rename) with its mode
  kept; a symlinked file (dotfile setups) is written through to its target;
- installing twice changes nothing (not a byte: no write at all); installing again
  after a change of port, token or forwarder path repairs our entries in place;
  uninstall removes exactly what install added.

Claude Code gets `type: "http"` hooks that POST straight to the daemon: no process per
event, so a PreToolUse/PermissionRequest (which Claude waits for) costs it a loopback
request. The daemon's token is written into the handler's `headers` literally: Claude
Code substitutes `$VARS` in headers only from the user's environment, which a desktop
launch or an IDE may not carry. `SessionStart` (no HTTP there) and Claude Code before
2.1.63 use the command forwarder. Codex and Gemini CLI run commands only: the forwarder,
`sessiond-hook AGENT` (see hooks/forward.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sessiond.hooks.codex_notify import (
    HookInstallError as HookInstallError,
)
from sessiond.hooks.codex_notify import (
    codex_config,
    load_toml,
    with_notify,
    without_notify,
)
from sessiond.sources import plugins
from sessiond.sources.claude import hooks as claude_hooks
from sessiond.sources.claude.hooks import CLAUDE_HTTP_SINCE
from sessiond.sources.plugin import (
    _FORWARDER_NAMES,
    HookRecipe,
    HookSetup,
    PluginFileRecipe,
    is_our_command,
)

# The agents whose hooks sessiond installs: those whose plugin has a recipe.
HOOK_AGENTS: tuple[str, ...] = tuple(
    a for a, p in plugins().items() if p.hook_recipe is not None or p.plugin_file is not None
)
HookAgent = str


Setup = HookSetup


@dataclass(slots=True)
class Change:
    """What install/uninstall did to one file."""

    path: Path
    changed: bool
    backup: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FileStatus:
    path: Path
    exists: bool
    installed: list[str] = field(default_factory=list)  # events with our entries
    expected: list[str] = field(default_factory=list)
    stale: bool = False  # our entries name another port, token or forwarder
    problem: str = ""  # the file cannot be read
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth knowing, not problems


# -- where things are ---------------------------------------------------------------------


def claude_settings(env: Mapping[str, str], home: Path) -> Path:
    return claude_hooks.settings_file(env, home)


def forwarder_argv(state_dir: Path | None = None, python: str | None = None) -> tuple[str, ...]:
    """The command that runs the forwarder: `sessiond-hook` beside this Python, if installed.

    Absolute, and the same for every sessiond release installed there: Codex hashes the
    command text for its trust check. `--state-dir` is added only when sessiond runs
    with a state dir other than its default, which the agent's environment won't know.
    """
    python = python or sys.executable
    here = Path(python).parent
    found = next((here / n for n in _FORWARDER_NAMES if (here / n).is_file()), None)
    which = shutil.which("sessiond-hook")
    if found is not None:
        argv: tuple[str, ...] = (os.path.abspath(found),)
    elif which:
        argv = (os.path.abspath(which),)
    else:
        argv = (os.path.abspath(python), "-m", "sessiond.hooks.forward")
    if state_dir is not None:
        argv += ("--state-dir", str(state_dir))
    return argv


# -- JSON settings files -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _JsonFormat:
    indent: str | int = 2
    newline: bool = True
    crlf: bool = False


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HookInstallError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def _load_json(path: Path, raw: bytes | None) -> tuple[dict[str, Any], _JsonFormat]:
    if raw is None or not raw.strip():
        return {}, _JsonFormat()
    try:
        text = raw.decode("utf-8-sig")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise HookInstallError(
            f"{path} is not valid JSON{where}, so sessiond will not touch it; fix it and run this again."
        ) from exc
    if not isinstance(data, dict):
        raise HookInstallError(f"{path} does not hold a JSON object, so sessiond will not touch it.")
    indent: str | int = 2
    found = re.search(r"\n([ \t]+)\S", text)
    if found:
        ws = found.group(1)
        indent = ws if "\t" in ws else len(ws)
    return data, _JsonFormat(indent, text.endswith("\n"), "\r\n" in text)


def _dump_json(data: dict[str, Any], fmt: _JsonFormat) -> bytes:
    text = json.dumps(data, indent=fmt.indent, ensure_ascii=False)
    if fmt.newline:
        text += "\n"
    if fmt.crlf:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8")


def _hooks_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    hooks = data.get("hooks")
    if hooks is None:
        return {}
    if not isinstance(hooks, dict):
        raise HookInstallError(f'"hooks" in {path} is not a JSON object, so sessiond will not touch it.')
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise HookInstallError(
                f'"hooks.{event}" in {path} is not a list, so sessiond will not touch the file.'
            )
    return hooks


Ours = Callable[[dict[str, Any]], bool]


def _set_groups(
    data: dict[str, Any], path: Path, wanted: dict[str, dict[str, Any]], ours: Ours
) -> dict[str, Any]:
    """`data` with exactly the groups in `wanted` (event -> group) as ours.

    A group of ours already there is replaced in place (repairing drift without moving
    anything); a missing one is appended after the user's; our handlers on events no
    longer wanted are removed, with the groups and events that leaves empty.
    """
    data = json.loads(json.dumps(data))  # a deep copy; the original stays for comparison
    hooks = _hooks_table(data, path)
    for event in list(hooks):
        groups = hooks[event]
        kept: list[Any] = []
        placed = False
        removed = False
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list) or not any(_ours(h, ours) for h in handlers):
                kept.append(group)
                continue
            mine = [h for h in handlers if _ours(h, ours)]
            others = [h for h in handlers if not _ours(h, ours)]
            if others:  # our handler inside a group of the user's: take ours out only
                group["hooks"] = others
                kept.append(group)
                removed = True
            elif event in wanted and not placed:
                kept.append(wanted[event] if mine else group)
                placed = True
            else:
                removed = True
        if event in wanted and not placed:
            kept.append(wanted[event])
            placed = True
        if kept:
            hooks[event] = kept
        elif removed:
            del hooks[event]
    for event, group in wanted.items():
        if event not in hooks:
            hooks[event] = [group]
    if hooks:
        data["hooks"] = hooks
    elif "hooks" in data:
        del data["hooks"]
    return data


def _ours(handler: object, ours: Ours) -> bool:
    return isinstance(handler, dict) and ours(handler)


def _installed(data: dict[str, Any], path: Path, ours: Ours) -> dict[str, list[dict[str, Any]]]:
    """Our handlers, by event."""
    found: dict[str, list[dict[str, Any]]] = {}
    for event, groups in _hooks_table(data, path).items():
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            for handler in handlers if isinstance(handlers, list) else []:
                if _ours(handler, ours):
                    found.setdefault(event, []).append(handler)
    return found


def hook_file(agent: HookAgent, setup: Setup) -> Path:
    own = plugins()[agent].plugin_file
    if own is not None:
        return own.path(setup.env, setup.home)
    return _recipe(agent).settings_file(setup.env, setup.home)


def _recipe(agent: HookAgent) -> HookRecipe:
    recipe = plugins()[agent].hook_recipe
    if recipe is None:
        raise HookInstallError(f"sessiond does not install {agent}'s hooks.")
    return recipe


# -- writing -----------------------------------------------------------------------------------------------


def write_atomic(
    path: Path, data: bytes, *, now: datetime | None = None, private: bool = False
) -> Path | None:
    """Back the file up, then replace it atomically, keeping its mode; returns the backup.

    A symlink is followed and its target written (the link stays a link). A new file is
    created 0600: it may hold the daemon's token. With `private`, an existing file that
    others could read is made 0600 too (its backup as well).
    """
    target = Path(os.path.realpath(path))
    backup: Path | None = None
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o600
    if private:
        mode &= 0o700
    target.parent.mkdir(parents=True, exist_ok=True)
    if st is not None:
        backup = _backup(target, mode, now or datetime.now(UTC))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".sessiond-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup


def _backup(target: Path, mode: int, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        candidate = target.with_name(f"{target.name}.sessiond-backup-{stamp}" + (f"-{n}" if n else ""))
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(target.read_bytes())
        return candidate
    raise HookInstallError(f"Cannot back up {target}: too many backups with the same time.")


# -- install / uninstall / status ---------------------------------------------------------------------


def install(agent: HookAgent, setup: Setup) -> list[Change]:
    """Write our hook entries into the agent's settings; nothing written if already there."""
    return _edit(agent, setup, install=True)


def uninstall(agent: HookAgent, setup: Setup) -> list[Change]:
    """Remove exactly the entries `install` added (found by our URL / command text)."""
    return _edit(agent, setup, install=False)


def _edit(agent: HookAgent, setup: Setup, *, install: bool) -> list[Change]:
    own = plugins()[agent].plugin_file
    if own is not None:
        return _edit_plugin_file(agent, own, setup, install=install)
    # Read and check every file first: one bad file means nothing is written for the agent.
    planned: list[tuple[Path, bytes | None, bytes]] = []
    path = hook_file(agent, setup)
    raw = _read(path)
    data, fmt = _load_json(path, raw)
    recipe = _recipe(agent)
    build, ours = recipe.groups, recipe.ours
    new = _set_groups(data, path, build(setup) if install else {}, ours)
    if new != data or (raw is None and install):
        planned.append((path, raw, _dump_json(new, fmt)))
    if agent == "codex":
        config = codex_config(setup)
        raw_toml = _read(config)
        parsed, text = load_toml(config, raw_toml)
        edited = with_notify(config, text, parsed, setup) if install else without_notify(config, text, parsed)
        if edited != text:
            planned.append((config, raw_toml, edited.encode("utf-8")))
    changes = []
    for target, before, after in planned:
        if before == after:
            continue
        # Claude's http hooks carry the token: its settings file is made private.
        private = install and agent == "claude" and target == path and setup.token.encode() in after
        was_shared = private and before is not None and _readable_by_others(target)
        backup = write_atomic(target, after, private=private)
        changes.append(Change(target, True, backup))
        if was_shared:
            changes[-1].notes.append(f"made {target} private (0600): it now holds the daemon's token")
    if not changes:
        changes.append(Change(path, False))
    if install and agent == "claude":
        changes[0].notes += _claude_notes(path, data, setup)
    if install and agent == "codex" and any(c.changed and c.path == path for c in changes):
        changes[0].notes.append("open /hooks in Codex and trust the new entries (Codex asks once)")
    if any(c.changed for c in changes):
        changes[0].notes.append(f"restart running {agent} sessions to load the change")
    return changes


def _edit_plugin_file(
    agent: HookAgent, own: PluginFileRecipe, setup: Setup, *, install: bool
) -> list[Change]:
    """A plugin file that is all ours: written whole (0600, backed up if it changed), or removed."""
    path = own.path(setup.env, setup.home)
    raw = _read(path)
    if install:
        wanted = own.render(setup).encode("utf-8")
        if raw == wanted:
            return [Change(path, False)]
        change = Change(path, True, write_atomic(path, wanted, private=True))
    else:
        if raw is None:
            return [Change(path, False)]
        path.unlink()
        change = Change(path, True)
    change.notes.append(f"restart running {agent} sessions to load the change")
    return [change]


def _readable_by_others(path: Path) -> bool:
    try:
        return bool(os.stat(path).st_mode & 0o077)
    except OSError:
        return False


def _claude_notes(path: Path, data: dict[str, Any], setup: Setup) -> list[str]:
    notes = []
    if setup.claude_version is None:
        notes.append("could not run `claude --version`; installed the hooks of a current Claude Code")
    elif setup.claude_version < CLAUDE_HTTP_SINCE:
        notes.append("this Claude Code has no http hooks; every event runs the forwarder command")
    try:
        mode = stat.S_IMODE(Path(os.path.realpath(path)).stat().st_mode)
    except OSError:
        mode = 0
    if mode & 0o077 and setup.token and setup.token in json.dumps(data):
        # Unchanged by this install (nothing to write) but still shared: say so.
        notes.append(f"{path} is readable by other users and holds sessiond's token: chmod 600 it")
    return notes + _claude_warnings(data, setup)


def _claude_warnings(data: dict[str, Any], setup: Setup) -> list[str]:
    warnings = []
    if data.get("disableAllHooks") is True:
        warnings.append("disableAllHooks is set: Claude Code runs no hooks at all")
    allowed = data.get("allowedHttpHookUrls")
    if isinstance(allowed, list) and not any(
        isinstance(p, str) and re.fullmatch(re.escape(p).replace(r"\*", ".*"), setup.claude_url)
        for p in allowed
    ):
        warnings.append(f"allowedHttpHookUrls does not allow {setup.claude_url}")
    return warnings


def status(agent: HookAgent, setup: Setup) -> list[FileStatus]:
    """What is installed for one agent (one entry per file)."""
    path = hook_file(agent, setup)
    own = plugins()[agent].plugin_file
    if own is not None:
        found = FileStatus(path, path.exists(), expected=["plugin"])
        try:
            raw = _read(path)
        except HookInstallError as exc:
            found.problem = str(exc)
            return [found]
        if raw is not None:
            found.installed = ["plugin"]
            found.stale = raw != own.render(setup).encode("utf-8")
        return [found]
    recipe = _recipe(agent)
    build, ours = recipe.groups, recipe.ours
    wanted = build(setup)
    result = [_json_status(path, wanted, ours, setup if agent == "claude" else None)]
    if agent == "codex":
        config = codex_config(setup)
        st = FileStatus(config, config.exists(), expected=["notify"])
        try:
            parsed, _ = load_toml(config, _read(config))
        except HookInstallError as exc:
            st.problem = str(exc)
        else:
            current = parsed.get("notify")
            if current is not None and is_our_command(current, "codex"):
                st.installed.append("notify")
                st.stale = current != [*setup.forwarder, "codex"]
            elif current is not None:
                st.warnings.append("notify belongs to another program")
        result.append(st)
    return result


def _json_status(
    path: Path, wanted: dict[str, dict[str, Any]], ours: Ours, claude: Setup | None
) -> FileStatus:
    st = FileStatus(path, path.exists(), expected=list(wanted))
    try:
        data, _ = _load_json(path, _read(path))
        found = _installed(data, path, ours)
    except HookInstallError as exc:
        st.problem = str(exc)
        return st
    st.installed = [e for e in wanted if e in found]
    st.stale = any(found.get(e) != wanted[e]["hooks"] for e in st.installed) or any(
        e not in wanted for e in found
    )
    if claude is not None:
        st.warnings += _claude_warnings(data, claude)
        asked = found.get("PermissionRequest", [])
        if any("?hold=" in str(h.get("url", "")) for h in asked):
            st.notes.append("permission requests can be answered from the panel, a toast or "
                            "`sessiond approve` (held up to 10 min; the terminal dialog stays)")
        elif asked:
            st.notes.append("permission requests are answered in the terminal only "
                            "(this Claude Code is not known to race its dialog with the hook)")
    return st

