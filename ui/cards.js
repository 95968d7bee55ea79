// A card: one top-level session (and its subagents) as a DOM element, updated in place
// (textContent only, so focus and scroll survive); and placing cards in a column.

import { agentName, ENDED_VISIBLE_MS, MAX_SUBAGENTS, STATUS_WORDS } from "./names.js";
import { projectOf, rank, statusPhrase, subPhrase } from "./model.js";
import { el, icon, ICONS, formatClock, parseTime } from "./util.js";

export function buildCard(id, hooks) {
  const muteBtn = el("button", {
    className: "icon-btn mute-btn",
    attrs: { type: "button" },
  });
  const gotoBtn = el("button", {
    className: "icon-btn goto-btn",
    attrs: { type: "button", hidden: "" },
  }, [icon(ICONS.terminal)]);
  const menu = el("div", { className: "mute-menu", attrs: { role: "group", hidden: "" } });
  const card = el("article", {
    className: "card",
    attrs: { tabindex: "0", "data-id": id },
  }, [
    el("div", { className: "card-head" }, [
      el("span", { className: "agent" }),
      el("span", { className: "host", attrs: { hidden: "" } }),
      el("span", { className: "project" }),
      el("span", { className: "time" }),
    ]),
    el("p", { className: "title" }),
    el("div", { className: "tool" }, [el("span", { className: "tool-name" }), el("code", { className: "tool-summary" })]),
    el("p", { className: "meta" }, [
      el("span", { className: "branch" }, [icon(ICONS.branch), el("span", { className: "branch-name" })]),
      el("span", { className: "reason" }),
      gotoBtn,
      muteBtn,
    ]),
    el("ul", { className: "subs" }),
    menu,
  ]);

  gotoBtn.addEventListener("click", (event) => {
    event.stopPropagation();
    hooks.onGoto?.(id);
  });
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
    } else if (event.key === "Enter" && event.target === card) {
      event.preventDefault();
      hooks.onOpen?.(id);
    }
  });
  card.addEventListener("click", (event) => {
    if (!event.target.closest("button, .mute-menu, .subs")) hooks.onOpen?.(id);
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

/** Bring the focused card's terminal to the front: the `g` key. */
export function gotoFromKeyboard(card) {
  const btn = card && card.querySelector(".goto-btn");
  if (btn && !btn.hidden) btn.click();
}

/** Toggle the mute menu (or unmute) for the focused card: the `m` key. */
export function muteFromKeyboard(card) {
  const btn = card && card.querySelector(".mute-btn");
  if (btn) btn.click();
}

export function fillCard(card, s, subs, now, mutedUntil, showHost = false) {
  const project = projectOf(s);
  card.dataset.status = s.status;
  card.classList.toggle("is-offline", Boolean(s.offline));
  const host = card.querySelector(".host");
  host.hidden = !showHost;
  setText(host, s.offline ? `${s.host || "?"} (offline)` : s.host || "");
  host.title = s.offline ? `${s.host} has not been heard from: its sessions as last known` : `runs on ${s.host}`;
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

  const gotoBtn = card.querySelector(".goto-btn");
  gotoBtn.hidden = !s.terminal;
  const where = s.terminal ? `Go to terminal (g): ${s.terminal.target}` : "";
  gotoBtn.setAttribute("aria-label", where || "Go to terminal");
  gotoBtn.title = where;

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

export function regroup(nodes) {
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
export function reconcile(container, nodes) {
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

export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}
