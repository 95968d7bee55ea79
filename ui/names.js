// Names and numbers the panel's modules share: columns, statuses, agents, timings.

export const COLUMNS = ["waiting_for_approval", "waiting_for_input", "working", "idle"];
export const WAITING = new Set(["waiting_for_approval", "waiting_for_input"]);

// Ended sessions stay on the board (in Idle) this long, then drop off.
export const ENDED_VISIBLE_MS = 10 * 60 * 1000;
// Idle sessions quieter than this go behind the "N older" toggle.
export const OLDER_AFTER_MS = 24 * 60 * 60 * 1000;
// How long a card that just started waiting keeps its highlight.
export const FRESH_MS = 12 * 1000;
export const MAX_SUBAGENTS = 6;
// Older sessions are shown a page at a time: someone may have thousands.
export const OLDER_PAGE = 100;
// What a card shows: a session from /api that differs in one of these needs a new render.
// (Wider than the daemon's `rules.shown_fields`, which decides what is worth an event:
// a card also shows `reason` and the time in its status.)
export const CARD_FIELDS = ["status", "status_since", "parent_id", "project", "branch", "title", "pending_tool", "reason",
  "agent", "terminal", "host", "offline"];

// The agents' names as people see them (sources/<agent>/__init__.py `display_name`;
// tests/test_agent_plugins.py checks that they agree).
export const AGENT_NAMES = { claude: "Claude", codex: "Codex", gemini: "Gemini", cursor: "Cursor", copilot: "Copilot", opencode: "OpenCode" };
export const STATUS_WORDS = {
  waiting_for_approval: "needs approval",
  waiting_for_input: "waiting for input",
  working: "working",
  idle: "idle",
  ended: "ended",
};

export function agentName(agent) {
  return AGENT_NAMES[agent] || String(agent || "agent");
}
