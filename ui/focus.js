// Focus: `#session=<id>` (scroll to, focus and highlight a card) and the keyboard's
// movement between cards.

import { bucketOf } from "./model.js";

/** Scroll to, focus and highlight a session's card (or its parent's, for a subagent). */
export function focusSession(board, id) {
  board.target = id || null;
  board.targetPending = Boolean(board.target);
  for (const node of board.root.querySelectorAll(".is-target")) node.classList.remove("is-target");
  if (board.target) applyTarget(board);
}

/** Highlight the target card; scroll to and focus it the first time it is there. */
export function applyTarget(board) {
  const s = board.sessions.get(board.target);
  if (!s) {
    if (board.loaded && board.targetPending) {
      board.targetPending = false;
      board.hooks.onTargetMissing?.(board.target);
    }
    return;
  }
  let id = s.id;
  let sub = null;
  if (s.parent_id && board.sessions.has(s.parent_id)) {
    id = s.parent_id;
    sub = s.id;
  }
  const card = board.cards.get(id);
  if (!card || !card.isConnected) {
    if (!board.targetPending) return;
    // Hidden by a filter or behind the "older" toggle: show it.
    const bucket = bucketOf(board.sessions.get(id), Date.now());
    let again = false;
    const index = board.olderIds.indexOf(id);
    if (bucket === "older" && (!board.showOlder || index >= board.olderLimit)) {
      board.showOlder = true;
      board.olderLimit = Math.max(board.olderLimit, index + 1);
      again = true;
    }
    if (board.filters.agent || board.filters.project || board.filters.host) {
      board.filters = { agent: "", project: "", host: "" };
      board.hooks.onFiltersReset?.();
      again = true;
    }
    if (again) board.render();
    return;
  }
  if (!card.classList.contains("is-target")) card.classList.add("is-target");
  if (sub) {
    const li = card.querySelector(`.sub[data-id="${CSS.escape(sub)}"]`);
    if (li) li.classList.add("is-target");
  }
  if (board.targetPending) {
    board.targetPending = false;
    card.scrollIntoView({ block: "center" });
    card.focus({ preventScroll: true });
  }
}

/** Move focus on the board: dy = ±1 within the column order, dx = ±1 between columns. */
export function moveFocus(board, dx, dy) {
  const cols = [...board.columns.values()]
    .map((c) => [...c.section.querySelectorAll(".card")].filter((n) => n.offsetParent !== null))
    .filter((list) => list.length > 0);
  if (cols.length === 0) return;
  const current = document.activeElement && document.activeElement.closest?.(".card");
  let ci = cols.findIndex((list) => list.includes(current));
  if (ci < 0) {
    cols[0][0].focus();
    return;
  }
  let ri = cols[ci].indexOf(current);
  if (dx) {
    ci = Math.max(0, Math.min(cols.length - 1, ci + dx));
    ri = Math.min(ri, cols[ci].length - 1);
  } else {
    ri += dy;
    if (ri >= cols[ci].length) {
      if (ci + 1 < cols.length) [ci, ri] = [ci + 1, 0];
      else ri = cols[ci].length - 1;
    } else if (ri < 0) {
      if (ci > 0) [ci, ri] = [ci - 1, cols[ci - 1].length - 1];
      else ri = 0;
    }
  }
  const next = cols[ci][ri];
  next.focus({ preventScroll: true });
  next.scrollIntoView({ block: "nearest" });
}
