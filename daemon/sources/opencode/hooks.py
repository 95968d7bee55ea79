"""OpenCode's plugin events (docs/agents/opencode.md): payload → status, and the plugin file
`sessiond hooks install --agent opencode` writes.

OpenCode has no command hooks; it loads JavaScript plugins from
`$XDG_CONFIG_HOME/opencode/plugins/` (default `~/.config/opencode/plugins/`) and hands each
of its bus events to their `event` handler. Ours (`PLUGIN_JS` below) forwards the few that
say a session waits or works to `POST /hooks/opencode`, shaped like the other agents' hook
payloads: `{"hook_event_name", "session_id", "cwd", "properties"}`. Permission requests
are not stored by OpenCode at all: the plugin is the only exact way to see them.

Events, as opencode 1.18.33 sends them (checked with a logging plugin):
- `permission.asked` `{id, sessionID, permission, patterns, metadata, tool}` (before 1.1:
  `permission.updated` `{id, type, pattern, title, metadata, …}`) → waiting for approval;
- `permission.replied` `{sessionID, requestID | permissionID, reply | response}` → working;
- `session.status` `{sessionID, status: {type: busy | idle | retry}}`, `session.idle`
  → working / waiting for input;
- `session.error` `{sessionID, error: {name, data}}` → waiting for input;
- `session.deleted` `{info}` → ended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sessiond.protocol import MAX_SUMMARY, PendingTool, clip, tool_input
from sessiond.sources.plugin import HookSetup, Mapped, PluginFileRecipe, text

FORWARDED_EVENTS = ("permission.asked", "permission.updated", "permission.replied", "session.status",
                    "session.idle", "session.error", "session.deleted")  # fmt: skip


def session_key(payload: Mapping[str, Any]) -> str:
    return text(payload.get("session_id"))


def map_hook(event: str, p: Mapping[str, Any]) -> Mapped:
    props = p.get("properties")
    props = props if isinstance(props, dict) else {}
    if event in ("permission.asked", "permission.updated"):
        tool = _asked_tool(props)
        return "waiting_for_approval", f"OpenCode asks to run {tool.name}", {"tool": tool}
    if event == "permission.replied":
        reply = text(props.get("reply")) or text(props.get("response"))
        if reply == "reject":
            return "working", "permission refused, OpenCode goes on", {}
        return "working", "permission given, the tool runs", {}
    if event == "session.status":
        status = props.get("status")
        kind = status.get("type") if isinstance(status, dict) else None
        if kind in ("busy", "retry"):
            return "working", "the model is working" if kind == "busy" else "retrying the model", {}
        if kind == "idle":
            return "waiting_for_input", "the turn is over", {}
        return None, "", {}
    if event == "session.idle":
        return "waiting_for_input", "the turn is over", {}
    if event == "session.error":
        error = props.get("error")
        name = text(error.get("name")) if isinstance(error, dict) else ""
        if name == "MessageAbortedError":
            return "waiting_for_input", "interrupted by the user", {}
        return "waiting_for_input", f"the turn failed ({clip(name or 'error', 80)})", {}
    if event == "session.deleted":
        return "ended", "the session was deleted", {}
    return None, "", {}


def _asked_tool(props: Mapping[str, Any]) -> PendingTool:
    name = text(props.get("permission")) or text(props.get("type")) or "a tool"
    metadata = props.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    patterns = props.get("patterns") if isinstance(props.get("patterns"), list) else props.get("pattern")
    summary = (text(metadata.get("command")) or text(metadata.get("filepath")) or text(props.get("title"))
               or (" ".join(x for x in patterns if isinstance(x, str)) if isinstance(patterns, list)
                   else text(patterns)))
    return PendingTool(clip(name, MAX_SUMMARY), clip(summary or name, MAX_SUMMARY),
                       input=tool_input(metadata))


def plugin_path(env: Mapping[str, str], home: Path) -> Path:
    config = env.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config).expanduser() if config else home / ".config"
    return base / "opencode" / "plugins" / "sessiond.js"


def render(setup: HookSetup) -> str:
    """The plugin's text: the state dir it reads the daemon's port and token from."""
    if setup.state_dir is None:
        raise ValueError("the OpenCode plugin needs the daemon's state directory")
    return PLUGIN_JS.replace("__STATE_DIR__", json.dumps(str(setup.state_dir))).replace(
        "__EVENTS__", json.dumps(list(FORWARDED_EVENTS)))


# Runs inside OpenCode (Bun). The port and token are read at each event, so a restarted
# daemon (new port) needs no reinstall. Failures never reach OpenCode: a plugin that
# throws would disturb the agent, so the last one is written where `sessiond hooks status`
# and `sessiond doctor` read it, as the command forwarder does.
PLUGIN_JS = """\
// sessiond: tells the sessiond daemon when an OpenCode session waits for you.
// Written by `sessiond hooks install`; `sessiond hooks uninstall` removes it.
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";

const STATE = __STATE_DIR__;
const EVENTS = new Set(__EVENTS__);

export const Sessiond = async ({ directory }) => ({
  event: async ({ event }) => {
    if (!EVENTS.has(event.type)) return;
    const props = event.properties ?? {};
    try {
      const port = JSON.parse(readFileSync(`${STATE}/runtime.json`, "utf8")).port;
      const token = readFileSync(`${STATE}/token`, "utf8").trim();
      const response = await fetch(`http://127.0.0.1:${port}/hooks/opencode`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${token}`,
          "X-Sessiond-Agent-Pid": String(process.pid),
        },
        body: JSON.stringify({
          hook_event_name: event.type,
          session_id: props.sessionID ?? props.info?.id ?? "",
          cwd: directory,
          properties: props,
        }),
        signal: AbortSignal.timeout(2000),
      });
      if (!response.ok) throw new Error(`the daemon answered ${response.status}`);
      try { unlinkSync(`${STATE}/hook-failure.json`); } catch {} // none recorded: fine
    } catch (error) {
      try {
        const reason = String(error).slice(0, 200);
        const record = { at: new Date().toISOString(), agent: "opencode", reason, count: 1 };
        writeFileSync(`${STATE}/hook-failure.json`, JSON.stringify(record), { mode: 0o600 });
      } catch {
        // The state dir is gone too: nothing left to tell, and OpenCode must go on.
      }
    }
  },
});
"""

RECIPE = PluginFileRecipe(path=plugin_path, render=render)
