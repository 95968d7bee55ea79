// The board: the sessions we know, and the columns of cards that show them.
//
// The store is a Map of Session objects (shapes in the contract). Rendering keeps
// one card element per top-level session and moves it between columns (cards.js).

import { buildCard, fillCard, reconcile, regroup, setText } from "./cards.js";
import { applyTarget, focusSession, moveFocus } from "./focus.js";
import { bucketOf, compareFor, projectOf, statusPhrase, subPhrase } from "./model.js";
import { CARD_FIELDS, COLUMNS, FRESH_MS, OLDER_PAGE, WAITING } from "./names.js";
import { el, parseTime } from "./util.js";

export { COLUMNS, WAITING } from "./names.js";
export { gotoFromKeyboard, muteFromKeyboard } from "./cards.js";

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
    this.filters = { agent: "", project: "", host: "" };
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
      return !mine || CARD_FIELDS.some((k) => JSON.stringify(mine[k]) !== JSON.stringify(s[k]));
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

  /** The machines with a session on the board (several: a bus joins them). */
  hosts() {
    const names = new Set();
    for (const s of this.sessions.values()) if (!this._isChild(s)) names.add(s.host || "");
    return [...names].sort((a, b) => a.localeCompare(b));
  }

  /** What "By project" groups by: the project, and its machine when there are several. */
  _groupKey(s) {
    return this._manyHosts ? `${s.host || "?"} · ${projectOf(s)}` : projectOf(s);
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
    this._manyHosts = this.hosts().length > 1;
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
      if (this.filters.host && (s.host || "") !== this.filters.host) continue;
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
          const project = this._groupKey(s);
          if (project !== lastProject) {
            const head = this._groupHead(col, project, list.filter((x) => this._groupKey(x) === project).length);
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
    fillCard(card, s, subs, now, this.isMuted(projectOf(s), now) ? this.muted.get(projectOf(s)) : null,
             this._manyHosts);
    return card;
  }

  // ---- #session=<id> and the keyboard (focus.js) -----------------------------------

  /** Scroll to, focus and highlight a session's card (or its parent's, for a subagent). */
  focusSession(id) {
    focusSession(this, id);
  }

  _applyTarget() {
    applyTarget(this);
  }

  /** Move focus: dy = ±1 within the column order, dx = ±1 between columns. */
  moveFocus(dx, dy) {
    moveFocus(this, dx, dy);
  }
}
