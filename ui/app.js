// sessiond's live panel: wires the event stream, the board, the controls and the
// opt-ins together. No build step: plain ES modules served by the daemon.

import { Board, WAITING, gotoFromKeyboard, muteFromKeyboard } from "./board.js";
import { Connection } from "./connection.js";
import { Detail } from "./detail.js";
import {
  beep,
  notificationsSupported,
  notify,
  requestNotifications,
  showWaitingCount,
  unlockSound,
} from "./alerts.js";
import { el, formatDuration, loadPref, parseTime, savePref } from "./util.js";

// A replayed transition older than this (after a reconnect) makes no sound.
const ALERT_MAX_AGE_MS = 2 * 60 * 1000;

const $ = (selector) => document.querySelector(selector);

const prefs = {
  notify: loadPref("notify", false),
  sound: loadPref("sound", false),
  group: loadPref("groupByProject", false),
  agent: loadPref("filterAgent", ""),
  project: loadPref("filterProject", ""),
  host: loadPref("filterHost", ""),
};

let controlsAvailable = true;
let quiet = null; // {start: "22:00", end: "08:00"} | null
let mutedNow = {}; // the daemon's last answer: {project: ISO until | null}

// ---- the board --------------------------------------------------------------------------

const detail = new Detail(document.body, { decide: postDecision, goto: postFocus, reply: postInput });

const board = new Board($("#board"), {
  onChange: updateChrome,
  onOpen: (id) => detail.open(board.sessions.get(id)),
  onGoto: async (id) => {
    const session = board.sessions.get(id);
    const error = session ? await postFocus(session) : "That session is gone.";
    flash(error || `Focused ${session.terminal ? session.terminal.target : "its terminal"}`);
  },
  onMute: (project, seconds) => postControl("mute", { project, for_s: seconds }, `Muted ${project}`),
  onUnmute: (project) => postControl("unmute", { project }, `Unmuted ${project}`),
  onTargetMissing: () => flash("That session is no longer on the board."),
  onFiltersReset: () => {
    setFilter("agent", "");
    setFilter("project", "");
    setFilter("host", "");
  },
});
board.groupByProject = prefs.group;
board.filters = { agent: prefs.agent, project: prefs.project, host: prefs.host };

function updateChrome() {
  const waiting = board.waitingCount();
  showWaitingCount(waiting, $("#favicon"));

  let approval = 0;
  let input = 0;
  let working = 0;
  let total = 0;
  for (const s of board.sessions.values()) {
    if (s.parent_id && board.sessions.has(s.parent_id)) continue;
    total += 1;
    if (s.status === "waiting_for_approval") approval += 1;
    else if (s.status === "waiting_for_input") input += 1;
    else if (s.status === "working") working += 1;
  }
  const summary = $("#summary");
  summary.replaceChildren();
  if (!board.loaded) return;
  if (waiting === 0) {
    summary.append(el("span", { className: "summary-calm", text: working ? `${working} working, nothing needs you` : "Nothing needs you" }));
  } else {
    if (approval) summary.append(el("span", { className: "summary-pill pill-approval", text: `${approval} to approve` }));
    if (input) summary.append(el("span", { className: "summary-pill pill-input", text: `${input} waiting` }));
  }
  summary.dataset.waiting = String(waiting);

  updateProjectOptions();
  updateHostOptions();
  const shown = board.root.querySelectorAll(".card").length;
  const filtered = board.filters.agent || board.filters.project || board.filters.host;
  $("#footer-status").textContent = filtered
    ? `${shown} shown of ${total} sessions (filtered)`
    : `${total} session${total === 1 ? "" : "s"}`;
}

/** The machine filter: shown once a bus puts more than one machine on the board. */
function updateHostOptions() {
  const select = $("#filter-host");
  const names = board.hosts();
  if (board.filters.host && !names.includes(board.filters.host)) names.push(board.filters.host);
  $("#field-host").hidden = names.length < 2;
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join("\u0000") !== names.join("\u0000")) {
    select.replaceChildren(
      el("option", { text: "All machines", attrs: { value: "" } }),
      ...names.map((name) => el("option", { text: name || "(this machine)", attrs: { value: name } })),
    );
  }
  select.value = board.filters.host;
}

function updateProjectOptions() {
  const select = $("#filter-project");
  const names = board.projects();
  if (board.filters.project && !names.includes(board.filters.project)) names.push(board.filters.project);
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join("\u0000") !== names.join("\u0000")) {
    select.replaceChildren(
      el("option", { text: "All projects", attrs: { value: "" } }),
      ...names.map((name) => el("option", { text: name, attrs: { value: name } })),
    );
  }
  select.value = board.filters.project;
}

// ---- the stream ---------------------------------------------------------------------------

const conn = new Connection({
  url: "events",
  handlers: {
    onSnapshot(data) {
      board.load(Array.isArray(data.sessions) ? data.sessions : []);
      loadControls();
    },
    onSession(session) {
      board.upsert(session);
      detail.update(session);
    },
    onTransition(t) {
      board.transition(t);
      detail.update(t && t.session);
      maybeAlert(t);
    },
    onRemoved(r) {
      if (r && r.session_id) board.remove(r.session_id);
    },
    onVerify(sessions) {
      if (board.differsFrom(sessions)) {
        console.warn("sessiond: the resumed stream missed changes; reloading the board");
        board.load(sessions);
      }
    },
    onReset() {
      // Nothing to do yet: the snapshot that follows on this stream rebuilds the board.
    },
  },
  onState: showConnection,
});

function showConnection(state) {
  const box = $("#conn");
  box.dataset.state = state;
  document.body.dataset.conn = state;
  renderConnLabel();
}

function renderConnLabel() {
  const state = conn.state;
  const wait = conn.retryAt ? formatDuration(Math.max(0, conn.retryAt - Date.now()) + 999) : "";
  const retry = conn.retryAt ? `retrying in ${wait}` : "retrying";
  const text = {
    connecting: "connecting…",
    live: "live",
    reconnecting: `reconnecting · ${retry}`,
    offline: `offline · ${retry}`,
    stopped: `daemon stopped · ${retry}`,
  }[state] || state;
  const label = $("#conn-label");
  if (label.textContent !== text) label.textContent = text;
  $("#conn").title = state === "live"
    ? "Connected to the daemon: updates arrive as they happen."
    : "Not connected to the daemon; the board may be out of date.";
}

function maybeAlert(t) {
  if (t.from !== "working" || !WAITING.has(t.to)) return;
  const s = t.session || board.sessions.get(t.session_id);
  if (!s || s.parent_id) return;
  const at = parseTime(t.at);
  if (Number.isFinite(at) && Date.now() - at > ALERT_MAX_AGE_MS) return;
  if (board.isMuted(s.project || "(no project)") || inQuietHours()) return;
  if (prefs.sound) beep(t.to);
  if (prefs.notify && (document.hidden || !document.hasFocus())) {
    notify({ ...s, status: t.to }, (id) => {
      window.location.hash = `session=${encodeURIComponent(id)}`;
    });
  }
}

function inQuietHours(now = new Date()) {
  if (!quiet || !quiet.start || !quiet.end) return false;
  const minutes = (hhmm) => {
    const [h, m] = String(hhmm).split(":").map(Number);
    return h * 60 + (m || 0);
  };
  const t = now.getHours() * 60 + now.getMinutes();
  const start = minutes(quiet.start);
  const end = minutes(quiet.end);
  return start <= end ? t >= start && t < end : t >= start || t < end;
}

// ---- mute / unmute (the daemon's controls) ---------------------------------------------------

async function loadControls() {
  try {
    const response = await fetch("api/controls", { cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    controlsAvailable = true;
    quiet = data.quiet || null;
    mutedNow = data.muted || {};
    board.setMuted(mutedNow);
    renderMutedList(mutedNow);
  } catch {
    controlsAvailable = false;
  }
  document.body.classList.toggle("no-controls", !controlsAvailable);
}

function renderMutedList(muted) {
  const box = $("#muted-list");
  const now = Date.now();
  const entries = Object.entries(muted)
    .filter(([, until]) => until === null || parseTime(until) > now)
    .sort(([a], [b]) => a.localeCompare(b));
  box.hidden = entries.length === 0;
  // Update the chips in place (a chip with keyboard focus keeps it as the time ticks).
  const chips = new Map([...box.querySelectorAll(".chip-muted")].map((chip) => [chip.dataset.project, chip]));
  const wanted = [box.querySelector(".muted-label")];
  for (const [project, until] of entries) {
    let chip = chips.get(project);
    if (!chip) {
      chip = el("button", {
        className: "chip chip-muted",
        attrs: { type: "button", title: `Unmute ${project}`, "aria-label": `Unmute ${project}`, "data-project": project },
        on: { click: () => postControl("unmute", { project }, `Unmuted ${project}`) },
      });
    }
    const left = until === null ? "" : ` · ${formatDuration(parseTime(until) - now)}`;
    const text = `${project}${left} ×`;
    if (chip.textContent !== text) chip.textContent = text;
    wanted.push(chip);
  }
  for (const chip of chips.values()) if (!wanted.includes(chip)) chip.remove();
  wanted.forEach((chip, i) => {
    if (box.children[i] !== chip) box.insertBefore(chip, box.children[i] || null);
  });
}

// Writes carry the HttpOnly cookie that `sessiond open` (its /login link) set: the page
// itself holds no secret.
/** Answer a held permission request; returns an error sentence, or "" once answered. */
/** POST an action on a session; "" when done, else one sentence saying why not. */
async function postAction(session, action, body) {
  try {
    const response = await fetch(`api/sessions/${encodeURIComponent(session.id)}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
      referrerPolicy: "no-referrer",
    });
    if (response.ok) return "";
    if (response.status === 401) return "Not logged in: run `sessiond open`.";
    const answer = await response.json().catch(() => ({}));
    return typeof answer.error === "string" ? answer.error : `HTTP ${response.status}`;
  } catch (error) {
    return `Could not reach the daemon: ${error.message}`;
  }
}

function postDecision(session, behavior, message) {
  return postAction(session, "decision", { id: session.decision.id, behavior, message, via: "panel" });
}

function postFocus(session) {
  return postAction(session, "focus", {});
}

function postInput(session, text, enter) {
  return postAction(session, "input", { text, enter });
}

async function postControl(action, body, done) {
  try {
    const response = await fetch(`api/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
      referrerPolicy: "no-referrer",
    });
    if (response.status === 401) throw new Error("not logged in: run `sessiond open`");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    flash(done);
  } catch (error) {
    flash(`Could not ${action} ${body.project}: ${error.message}`);
  }
  loadControls();
}

let flashTimer = null;
function flash(message) {
  const box = $("#flash-msg");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    box.hidden = true;
  }, 3500);
}

// ---- toolbar: filters and opt-ins --------------------------------------------------------------

function setFilter(kind, value) {
  board.filters = { ...board.filters, [kind]: value };
  savePref({ agent: "filterAgent", project: "filterProject", host: "filterHost" }[kind], value);
  $(`#filter-${kind}`).value = value;
}

function bindToolbar() {
  const agent = $("#filter-agent");
  agent.value = board.filters.agent;
  agent.addEventListener("change", () => {
    setFilter("agent", agent.value);
    board.render();
  });
  const project = $("#filter-project");
  updateProjectOptions();
  project.addEventListener("change", () => {
    setFilter("project", project.value);
    board.render();
  });
  const host = $("#filter-host");
  updateHostOptions();
  host.addEventListener("change", () => {
    setFilter("host", host.value);
    board.render();
  });

  const toggle = (id, initial, onChange) => {
    const button = $(id);
    button.setAttribute("aria-pressed", String(Boolean(initial)));
    button.addEventListener("click", async () => {
      const next = button.getAttribute("aria-pressed") !== "true";
      const value = await onChange(next);
      button.setAttribute("aria-pressed", String(value));
    });
  };
  toggle("#opt-group", prefs.group, (on) => {
    prefs.group = on;
    savePref("groupByProject", on);
    board.groupByProject = on;
    board.render();
    return on;
  });
  if (!notificationsSupported()) $("#opt-notify").hidden = true;
  toggle("#opt-notify", prefs.notify && notificationsSupported() && Notification.permission === "granted", async (on) => {
    if (on && !(await requestNotifications())) {
      flash("The browser did not allow notifications for this page.");
      on = false;
    }
    prefs.notify = on;
    savePref("notify", on);
    return on;
  });
  toggle("#opt-sound", prefs.sound, (on) => {
    prefs.sound = on;
    savePref("sound", on);
    if (on) {
      unlockSound();
      beep("waiting_for_input");
    }
    return on;
  });
  // A remembered "sound on" needs one user gesture before the browser lets it play.
  if (prefs.sound) document.addEventListener("pointerdown", unlockSound, { once: true });
}

// ---- keyboard ---------------------------------------------------------------------------------

function bindKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (detail.isOpen) return; // the detail view has its own keys
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea, .mute-menu")) return;
    const moves = {
      j: [0, 1], ArrowDown: [0, 1], k: [0, -1], ArrowUp: [0, -1],
      h: [-1, 0], ArrowLeft: [-1, 0], l: [1, 0], ArrowRight: [1, 0],
    };
    if (moves[event.key]) {
      const onCard = target.classList && target.classList.contains("card");
      // Arrow keys scroll the page unless a card has focus; letters always navigate.
      if (event.key.startsWith("Arrow") && !onCard) return;
      event.preventDefault();
      board.moveFocus(...moves[event.key]);
    } else if (event.key === "m" && target.classList && target.classList.contains("card")) {
      event.preventDefault();
      muteFromKeyboard(target);
    } else if (event.key === "g" && target.classList && target.classList.contains("card")) {
      event.preventDefault();
      gotoFromKeyboard(target);
    }
  });
}

// ---- #session=<id> (links from toasts) ---------------------------------------------------------

function targetFromHash() {
  const match = /^#session=(.+)$/.exec(window.location.hash);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

// ---- start --------------------------------------------------------------------------------------

function start() {
  bindToolbar();
  bindKeys();
  board.render();
  board.focusSession(targetFromHash());
  window.addEventListener("hashchange", () => board.focusSession(targetFromHash()));
  window.addEventListener("online", () => conn.retryNow());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) board.tick();
  });
  setInterval(() => {
    if (!document.hidden) {
      board.tick();
      if (!$("#muted-list").hidden) renderMutedList(mutedNow);
    }
    renderConnLabel();
  }, 1000);
  conn.start();
}

start();
