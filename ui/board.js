// The board: the sessions we know, and the columns of cards that show them.
//
// The store is a Map of Session objects (shapes in the contract). Rendering keeps
// one card element per top-level session and moves it between columns; a card is
// updated in place (textContent only), so focus and scroll survive updates.

import { el, icon, ICONS, formatDuration, formatClock, parseTime } from "./util.js";

export const COLUMNS = ["waiting_for_approval", "waiting_for_input", "working", "idle"];
export const WAITING = new Set(["waiting_for_approval", "waiting_for_input"]);

// Ended sessions stay on the board (in Idle) this long, then drop off.
const ENDED_VISIBLE_MS = 10 * 60 * 1000;
// Idle sessions quieter than this go behind the "N older" toggle.
const OLDER_AFTER_MS = 24 * 60 * 60 * 1000;
// How long a card that just started waiting keeps its highlight.
const FRESH_MS = 12 * 1000;
const MAX_SUBAGENTS = 6;
// Older sessions are shown a page at a time: someone may have thousands.
const OLDER_PAGE = 100;
const SHOWN_FIELDS = ["status", "status_since", "parent_id", "project", "branch", "title", "pending_tool", "reason", "agent"];

const AGENT_NAMES = { claude: "Claude", codex: "Codex", gemini: "Gemini", cursor: "Cursor" };
const STATUS_WORDS = {
  waiting_for_approval: "needs approval",
  waiting_for_input: "waiting for input",
  working: "working",
  idle: "idle",
  ended: "ended",
};

export function agentName(agent) {
  return AGENT_NAMES[agent] || String(agent || "agent");
}

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
function subPhrase(session, now) {
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

function projectOf(session) {
  return session.project || "(no project)";
}

export class Board {
  /**
   * @param {HTMLElement} root the <main> holding the column sections
   * @param {object} hooks onChange(board), onMute(project, seconds|null), onUnmute(project)
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.sessions = new Map();
    this.cards = new Map(); // id -> card element (top-level sessions only)
    this.buckets = new Map(); // id -> bucket the card was last rendered in
    this.groupHeads = new Map(); // "column\u0000project" -> header element
    this.fresh = new Map(); // id -> time the highlight ends
    this.filters = { agent: "", project: "" };
    this.groupByProject = false;
    this.showOlder = false;
    this.olderLimit = OLDER_PAGE;
    this.olderIds = [];
    this.muted = new Map(); // project -> until (ms) | Infinity
    this.target = null; // session id from #session=
    this.loaded = false;
    this.renderTimer = null;

    this.columns = new Map();
    for (const section of root.querySelectorAll(".column")) {
      this.columns.set(section.dataset.col, {
        section,
        cards: section.querySelector(".cards"),
        count: section.querySelector(".count"),
        empty: section.querySelector(".empty"),
      });
    }
    this.olderToggle = root.querySelector("#older-toggle");
    this.olderCards = root.querySelector("#older-cards");
    this.olderMore = root.querySelector("#older-more");
    this.olderMore.addEventListener("click", () => {
      this.olderLimit += OLDER_PAGE * 2;
      this.render();
    });
    this.olderToggle.addEventListener("click", () => {
      this.showOlder = !this.showOlder;
      this.olderLimit = OLDER_PAGE;
      this.render();
    });
  }

  // ---- the store ---------------------------------------------------------------

  /** Replace everything with a snapshot's sessions. */
  load(sessions) {
    this.sessions.clear();
    for (const s of sessions || []) if (s && s.id) this.sessions.set(s.id, s);
    for (const id of [...this.cards.keys()]) {
      if (!this.sessions.has(id)) this._dropCard(id);
    }
    this.loaded = true;
    this.render();
  }

  /** True when `sessions` (from /api/sessions) show something other than the store. */
  differsFrom(sessions) {
    if (sessions.length !== this.sessions.size) return true;
    return sessions.some((s) => {
      const mine = this.sessions.get(s.id);
      return !mine || SHOWN_FIELDS.some((k) => JSON.stringify(mine[k]) !== JSON.stringify(s[k]));
    });
  }

  upsert(session) {
    if (!session || !session.id) return;
    this.sessions.set(session.id, session);
    this.scheduleRender();
  }

  remove(id) {
    this.sessions.delete(id);
    this.fresh.delete(id);
    this.scheduleRender();
  }

  /** A transition: store its session; a move into a waiting column is highlighted. */
  transition(t) {
    const session = t.session && t.session.id ? t.session : this.sessions.get(t.session_id);
    if (!session) return;
    this.sessions.set(session.id, session);
    if (WAITING.has(t.to) && t.from !== t.to) this.markFresh(session.id);
    this.scheduleRender();
  }

  markFresh(id) {
    this.fresh.set(id, Date.now() + FRESH_MS);
    const card = this.cards.get(id);
    if (card) {
      card.classList.remove("is-fresh");
      void card.offsetWidth; // restart the animation
      card.classList.add("is-fresh");
    }
  }

  /** Top-level sessions that wait for the user (ignores filters: it's for the title). */
  waitingCount() {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (WAITING.has(s.status) && !this._isChild(s)) n += 1;
    }
    return n;
  }

  projects() {
    const names = new Set();
    for (const s of this.sessions.values()) if (!this._isChild(s)) names.add(projectOf(s));
    return [...names].sort((a, b) => a.localeCompare(b));
  }

  isMuted(project, now = Date.now()) {
    const until = this.muted.get(project);
    return until !== undefined && until > now;
  }

  setMuted(muted) {
    this.muted = new Map();
    for (const [project, until] of Object.entries(muted || {})) {
      const ms = until === null ? Infinity : parseTime(until);
      if (ms === Infinity || Number.isFinite(ms)) this.muted.set(project, ms);
    }
    this.scheduleRender();
  }

  _isChild(s) {
    return Boolean(s.parent_id) && this.sessions.has(s.parent_id);
  }

  // ---- rendering ---------------------------------------------------------------

  scheduleRender() {
    if (this.renderTimer !== null) return;
    // Not requestAnimationFrame: a background tab must still update its title.
    this.renderTimer = setTimeout(() => this.render(), 0);
  }

  render() {
    clearTimeout(this.renderTimer);
    this.renderTimer = null;
    const now = Date.now();
    const focused = document.activeElement;

    const children = new Map();
    this.buckets.clear();
    const usedHeads = new Map();
    const buckets = { waiting_for_approval: [], waiting_for_input: [], working: [], idle: [], older: [] };
    for (const s of this.sessions.values()) {
      if (s.parent_id) {
        if (this.sessions.has(s.parent_id)) {
          if (!children.has(s.parent_id)) children.set(s.parent_id, []);
          children.get(s.parent_id).push(s);
        }
        // A subagent never gets a card of its own, even before its parent is known.
        continue;
      }
      const bucket = bucketOf(s, now);
      this.buckets.set(s.id, bucket);
      if (bucket === null) continue;
      if (this.filters.agent && s.agent !== this.filters.agent) continue;
      if (this.filters.project && projectOf(s) !== this.filters.project) continue;
      buckets[bucket].push(s);
    }
    for (const [id, until] of this.fresh) if (until <= now) this.fresh.delete(id);

    const keep = new Set();
    buckets.older.sort(compareFor("older"));
    this.olderIds = buckets.older.map((s) => s.id);
    const olderShown = this.showOlder ? buckets.older.slice(0, this.olderLimit) : [];
    for (const col of [...COLUMNS, "older"]) {
      const list = col === "older" ? olderShown : buckets[col];
      list.sort(compareFor(col));
      const nodes = [];
      let lastProject = null;
      for (const s of list) {
        if (this.groupByProject && col !== "older") {
          const project = projectOf(s);
          if (project !== lastProject) {
            const head = this._groupHead(col, project, list.filter((x) => projectOf(x) === project).length);
            usedHeads.set(`${col}\u0000${project}`, head);
            nodes.push(head);
            lastProject = project;
          }
        }
        const card = this._card(s, children.get(s.id) || [], now);
        keep.add(s.id);
        nodes.push(card);
      }
      if (this.groupByProject && col !== "older") {
        // Groups follow the order of their newest card; cards stay together per project.
        regroup(nodes);
      }
      const container = col === "older" ? this.olderCards : this.columns.get(col).cards;
      reconcile(container, nodes);
      if (col !== "older") {
        const { count, empty, section } = this.columns.get(col);
        count.textContent = String(list.length);
        empty.hidden = list.length > 0 || (col === "idle" && buckets.older.length > 0);
        section.classList.toggle("is-empty", list.length === 0);
      }
    }
    for (const id of [...this.cards.keys()]) if (!keep.has(id)) this._dropCard(id);
    this.groupHeads = usedHeads;

    const older = buckets.older.length;
    this.olderToggle.hidden = older === 0;
    this.olderToggle.setAttribute("aria-expanded", String(this.showOlder && older > 0));
    this.olderToggle.textContent = this.showOlder
      ? `Hide ${older} older`
      : `${older} older (quiet for over a day)`;
    this.olderCards.hidden = !this.showOlder || older === 0;
    const left = older - olderShown.length;
    this.olderMore.hidden = !this.showOlder || left <= 0;
    this.olderMore.textContent = `Show ${Math.min(left, OLDER_PAGE * 2)} more (${left} not shown)`;

    if (focused && focused !== document.activeElement && focused.isConnected) {
      focused.focus({ preventScroll: true });
    }
    if (this.target) this._applyTarget();
    this.hooks.onChange(this);
  }

  /** Once a second: refresh the "waiting 3 min" texts, and re-render if a card must move. */
  tick() {
    const now = Date.now();
    let moved = false;
    for (const [id, card] of this.cards) {
      const s = this.sessions.get(id);
      if (!s) continue;
      if (bucketOf(s, now) !== this.buckets.get(id)) moved = true;
      setText(card.querySelector(".time"), statusPhrase(s, now));
      for (const li of card.querySelectorAll(".sub")) {
        const sub = this.sessions.get(li.dataset.id);
        if (sub) setText(li.querySelector(".sub-time"), subPhrase(sub, now));
      }
      if (card.classList.contains("is-fresh") && !this.fresh.has(id)) card.classList.remove("is-fresh");
    }
    for (const [id, until] of this.fresh) {
      if (until <= now) {
        this.fresh.delete(id);
        const card = this.cards.get(id);
        if (card) card.classList.remove("is-fresh");
      }
    }
    for (const [project, until] of this.muted) if (until <= now) moved = true;
    if (moved) {
      for (const [project, until] of this.muted) if (until <= now) this.muted.delete(project);
      this.render();
    }
  }

  _dropCard(id) {
    const card = this.cards.get(id);
    if (card) card.remove();
    this.cards.delete(id);
  }

  _groupHead(col, project, n) {
    const key = `${col}\u0000${project}`;
    let head = this.groupHeads.get(key);
    if (!head) {
      head = el("h3", { className: "group-head" }, [el("span", { className: "group-name" }), el("span", { className: "group-count" })]);
      this.groupHeads.set(key, head);
    }
    head.dataset.project = project;
    setText(head.firstChild, project);
    setText(head.lastChild, String(n));
    return head;
  }

  _card(s, subs, now) {
    let card = this.cards.get(s.id);
    if (!card) {
      card = buildCard(s.id, this.hooks);
      this.cards.set(s.id, card);
      if (this.fresh.has(s.id)) card.classList.add("is-fresh");
    }
    fillCard(card, s, subs, now, this.isMuted(projectOf(s), now) ? this.muted.get(projectOf(s)) : null);
    return card;
  }

  // ---- #session=<id> -------------------------------------------------------------

  /** Scroll to, focus and highlight a session's card (or its parent's, for a subagent). */
  focusSession(id) {
    this.target = id || null;
    this.targetPending = Boolean(this.target);
    for (const node of this.root.querySelectorAll(".is-target")) node.classList.remove("is-target");
    if (this.target) this._applyTarget();
  }

  /** Highlight the target card; scroll to and focus it the first time it is there. */
  _applyTarget() {
    const s = this.sessions.get(this.target);
    if (!s) {
      if (this.loaded && this.targetPending) {
        this.targetPending = false;
        this.hooks.onTargetMissing?.(this.target);
      }
      return;
    }
    let id = s.id;
    let sub = null;
    if (s.parent_id && this.sessions.has(s.parent_id)) {
      id = s.parent_id;
      sub = s.id;
    }
    const card = this.cards.get(id);
    if (!card || !card.isConnected) {
      if (!this.targetPending) return;
      // Hidden by a filter or behind the "older" toggle: show it.
      const bucket = bucketOf(this.sessions.get(id), Date.now());
      let again = false;
      const index = this.olderIds.indexOf(id);
      if (bucket === "older" && (!this.showOlder || index >= this.olderLimit)) {
        this.showOlder = true;
        this.olderLimit = Math.max(this.olderLimit, index + 1);
        again = true;
      }
      if (this.filters.agent || this.filters.project) {
        this.filters = { agent: "", project: "" };
        this.hooks.onFiltersReset?.();
        again = true;
      }
      if (again) this.render();
      return;
    }
    if (!card.classList.contains("is-target")) card.classList.add("is-target");
    if (sub) {
      const li = card.querySelector(`.sub[data-id="${CSS.escape(sub)}"]`);
      if (li) li.classList.add("is-target");
    }
    if (this.targetPending) {
      this.targetPending = false;
      card.scrollIntoView({ block: "center" });
      card.focus({ preventScroll: true });
    }
  }

  // ---- keyboard ------------------------------------------------------------------

  /** Move focus: dy = ±1 within the column order, dx = ±1 between columns. */
  moveFocus(dx, dy) {
    const cols = [...this.columns.values()]
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
}

// ---- cards --------------------------------------------------------------------------

function buildCard(id, hooks) {
  const muteBtn = el("button", {
    className: "icon-btn mute-btn",
    attrs: { type: "button" },
  });
  const menu = el("div", { className: "mute-menu", attrs: { role: "group", hidden: "" } });
  const card = el("article", {
    className: "card",
    attrs: { tabindex: "0", "data-id": id },
  }, [
    el("div", { className: "card-head" }, [
      el("span", { className: "agent" }),
      el("span", { className: "project" }),
      el("span", { className: "time" }),
    ]),
    el("p", { className: "title" }),
    el("div", { className: "tool" }, [el("span", { className: "tool-name" }), el("code", { className: "tool-summary" })]),
    el("p", { className: "meta" }, [
      el("span", { className: "branch" }, [icon(ICONS.branch), el("span", { className: "branch-name" })]),
      el("span", { className: "reason" }),
      muteBtn,
    ]),
    el("ul", { className: "subs" }),
    menu,
  ]);

  muteBtn.addEventListener("click", (event) => {
    event.stopPropagation();
    const project = card.dataset.project;
    if (card.dataset.muted === "true") {
      hooks.onUnmute(project);
      return;
    }
    openMuteMenu(card, menu, project, hooks);
  });
  card.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) {
      menu.hidden = true;
      card.focus();
      event.stopPropagation();
    }
  });
  return card;
}

function openMuteMenu(card, menu, project, hooks) {
  if (!menu.hidden) {
    menu.hidden = true;
    return;
  }
  const choose = (seconds) => () => {
    menu.hidden = true;
    card.focus({ preventScroll: true });
    hooks.onMute(project, seconds);
  };
  menu.replaceChildren(
    el("span", { className: "mute-label", text: `Mute ${project}` }),
    el("button", { className: "chip", text: "1 h", attrs: { type: "button" }, on: { click: choose(3600) } }),
    el("button", { className: "chip", text: "8 h", attrs: { type: "button" }, on: { click: choose(8 * 3600) } }),
    el("button", { className: "chip", text: "Until unmuted", attrs: { type: "button" }, on: { click: choose(null) } }),
    el("button", {
      className: "chip chip-quiet", text: "×", attrs: { type: "button", "aria-label": "Cancel", title: "Cancel (Esc)" },
      on: { click: () => { menu.hidden = true; card.focus({ preventScroll: true }); } },
    }),
  );
  menu.hidden = false;
  menu.querySelector("button").focus();
}

/** Toggle the mute menu (or unmute) for the focused card: the `m` key. */
export function muteFromKeyboard(card) {
  const btn = card && card.querySelector(".mute-btn");
  if (btn) btn.click();
}

function fillCard(card, s, subs, now, mutedUntil) {
  const project = projectOf(s);
  card.dataset.status = s.status;
  card.dataset.project = project;
  card.dataset.agent = s.agent || "";
  card.dataset.muted = String(mutedUntil !== null);
  card.setAttribute(
    "aria-label",
    `${project}, ${agentName(s.agent)}: ${STATUS_WORDS[s.status] || s.status}. ${s.title || ""}`.trim(),
  );

  const agent = card.querySelector(".agent");
  agent.className = `agent agent-${/^[a-z]+$/.test(s.agent || "") ? s.agent : "other"}`;
  setText(agent, agentName(s.agent));
  setText(card.querySelector(".project"), project);
  card.querySelector(".project").title = s.cwd || project;
  const branch = card.querySelector(".branch");
  branch.hidden = !s.branch;
  setText(card.querySelector(".branch-name"), s.branch || "");
  branch.title = s.branch ? `branch ${s.branch}` : "";
  const time = card.querySelector(".time");
  setText(time, statusPhrase(s, now));
  time.title = `${STATUS_WORDS[s.status] || s.status} since ${formatClock(parseTime(s.status_since), now)}`;

  const title = card.querySelector(".title");
  setText(title, s.title || "(no prompt yet)");
  title.classList.toggle("is-placeholder", !s.title);
  title.title = s.title || "";

  const tool = card.querySelector(".tool");
  const pending = s.pending_tool && (s.pending_tool.name || s.pending_tool.summary) ? s.pending_tool : null;
  tool.hidden = !pending;
  setText(tool.querySelector(".tool-name"), pending ? pending.name : "");
  setText(tool.querySelector(".tool-summary"), pending ? pending.summary : "");
  tool.querySelector(".tool-summary").hidden = !(pending && pending.summary);
  tool.title = pending ? `${pending.name}: ${pending.summary}` : "";

  const reason = card.querySelector(".reason");
  reason.hidden = !s.reason;
  setText(reason, s.reason || "");

  const muteBtn = card.querySelector(".mute-btn");
  const muted = mutedUntil !== null;
  if (muteBtn.dataset.muted !== String(muted)) {
    muteBtn.replaceChildren(icon(muted ? ICONS.bellOff : ICONS.bell));
    muteBtn.dataset.muted = String(muted);
  }
  const label = muted
    ? `Unmute ${project} (muted${mutedUntil === Infinity ? "" : ` until ${formatClock(mutedUntil, now)}`})`
    : `Mute ${project}`;
  muteBtn.setAttribute("aria-label", label);
  muteBtn.title = label;

  fillSubagents(card.querySelector(".subs"), subs, now);
}

function fillSubagents(list, subs, now) {
  const shown = subs
    .filter((s) => s.status !== "ended" || now - parseTime(s.status_since) <= ENDED_VISIBLE_MS)
    .sort((a, b) => rank(a) - rank(b) || parseTime(b.last_activity) - parseTime(a.last_activity));
  list.hidden = shown.length === 0;
  const items = [];
  const existing = new Map([...list.children].filter((li) => li.dataset.id).map((li) => [li.dataset.id, li]));
  for (const s of shown.slice(0, MAX_SUBAGENTS)) {
    let li = existing.get(s.id);
    if (!li) {
      li = el("li", { className: "sub", attrs: { "data-id": s.id } }, [
        icon(ICONS.sub, "icon sub-icon"),
        el("span", { className: "sub-dot", attrs: { "aria-hidden": "true" } }),
        el("span", { className: "sub-title" }),
        el("span", { className: "sub-time" }),
      ]);
    }
    li.dataset.status = s.status;
    const text = s.title || (s.pending_tool && `${s.pending_tool.name} ${s.pending_tool.summary}`) || "subagent";
    setText(li.querySelector(".sub-title"), text);
    li.querySelector(".sub-title").title = text;
    setText(li.querySelector(".sub-time"), subPhrase(s, now));
    items.push(li);
  }
  if (shown.length > MAX_SUBAGENTS) {
    let more = list.querySelector(".sub-more");
    if (!more) more = el("li", { className: "sub-more" });
    setText(more, `+${shown.length - MAX_SUBAGENTS} more subagents`);
    items.push(more);
  }
  reconcile(list, items);
}

function rank(s) {
  return { waiting_for_approval: 0, waiting_for_input: 1, working: 2, idle: 3, ended: 4 }[s.status] ?? 5;
}

// ---- helpers ------------------------------------------------------------------------

function compareFor(col) {
  // Newest first everywhere: a session that just started waiting is on top.
  const key = col === "idle" || col === "older" ? "last_activity" : "status_since";
  return (a, b) =>
    (parseTime(b[key]) || 0) - (parseTime(a[key]) || 0) || String(a.id).localeCompare(String(b.id));
}

/** Reorder [head, card, card, head, card, …] in place so each project's block is contiguous. */
function regroup(nodes) {
  const blocks = [];
  const byProject = new Map();
  let current = null;
  for (const node of nodes) {
    if (node.classList.contains("group-head")) {
      const project = node.dataset.project;
      current = byProject.get(project);
      if (!current) {
        current = [node];
        byProject.set(project, current);
        blocks.push(current);
      }
    } else {
      current.push(node);
    }
  }
  nodes.length = 0;
  for (const block of blocks) nodes.push(...block);
}

/** Make `container`'s children exactly `nodes`, moving as few as possible. */
function reconcile(container, nodes) {
  let cursor = container.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
      continue;
    }
    container.insertBefore(node, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}
