// What the board shows of a session, computed from its data alone (no DOM): the status
// phrase, the bucket (column) it belongs in, and the order within a column.

import { COLUMNS, ENDED_VISIBLE_MS, OLDER_AFTER_MS } from "./names.js";
import { formatDuration, parseTime } from "./util.js";

/** "waiting 3 min", "working 12 s", "idle 2 h", "ended 4 min ago". */
export function statusPhrase(session, now) {
  const since = parseTime(session.status_since);
  const took = formatDuration(now - since);
  switch (session.status) {
    case "waiting_for_approval":
    case "waiting_for_input":
      return `waiting ${took}`;
    case "working":
      return `working ${took}`;
    case "ended":
      return `ended ${took} ago`;
    default:
      return `idle ${took}`;
  }
}

/** The shorter phrase on a subagent's line, where no column says what it waits for. */
export function subPhrase(session, now) {
  if (session.status === "waiting_for_approval") {
    return `needs approval ${formatDuration(now - parseTime(session.status_since))}`;
  }
  return statusPhrase(session, now);
}

/** Which bucket a top-level session belongs in now: a column, "older", or null (hidden). */
export function bucketOf(session, now) {
  const status = session.status;
  if (status === "ended") {
    const since = parseTime(session.status_since);
    return Number.isFinite(since) && now - since > ENDED_VISIBLE_MS ? null : "idle";
  }
  if (status === "idle") {
    const last = parseTime(session.last_activity || session.status_since);
    return Number.isFinite(last) && now - last > OLDER_AFTER_MS ? "older" : "idle";
  }
  return COLUMNS.includes(status) ? status : "idle";
}

export function projectOf(session) {
  return session.project || "(no project)";
}

export function rank(s) {
  return { waiting_for_approval: 0, waiting_for_input: 1, working: 2, idle: 3, ended: 4 }[s.status] ?? 5;
}

// ---- helpers ------------------------------------------------------------------------

export function compareFor(col) {
  // Newest first everywhere: a session that just started waiting is on top.
  const key = col === "idle" || col === "older" ? "last_activity" : "status_since";
  return (a, b) =>
    (parseTime(b[key]) || 0) - (parseTime(a[key]) || 0) || String(a.id).localeCompare(String(b.id));
}

/** Reorder [head, card, card, head, card, …] in place so each project's block is contiguous. */
