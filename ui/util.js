// Small DOM and time helpers. Text from transcripts only ever reaches the page
// through `textContent` (see `el`): nothing here parses HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an element. `props` sets `className`, `text` (as textContent), `attrs`
 * (setAttribute, never `style`) and `on` (event listeners).
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = String(props.text);
  if (props.attrs) {
    for (const [name, value] of Object.entries(props.attrs)) {
      if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
    }
  }
  if (props.on) {
    for (const [type, handler] of Object.entries(props.on)) node.addEventListener(type, handler);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** A small inline icon from a list of SVG path `d` strings (24×24 grid, stroked). */
export function icon(paths, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

export const ICONS = {
  branch: ["M6 3v12", "M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M18 9a9 9 0 0 1-9 9"],
  bell: ["M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9", "M10.3 21a1.94 1.94 0 0 0 3.4 0"],
  bellOff: ["M8.7 3A6 6 0 0 1 18 8a21.3 21.3 0 0 0 .6 5", "M17 17H3s3-2 3-9a4.67 4.67 0 0 1 .3-1.7", "M10.3 21a1.94 1.94 0 0 0 3.4 0", "M2 2l20 20"],
  tool: ["M4 17l6-6-6-6", "M12 19h8"],
  terminal: ["M3 5h18v14H3z", "M7 10l3 2-3 2", "M12 15h5"],
  sub: ["M4 4v9a3 3 0 0 0 3 3h11", "M15 12l4 4-4 4"],
};

/** Milliseconds since epoch for an ISO-8601 string; NaN when absent or invalid. */
export function parseTime(iso) {
  if (typeof iso !== "string" || !iso) return NaN;
  return Date.parse(iso);
}

/** "12 s", "3 min", "2 h 5 min", "3 d": a compact, readable duration. */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return `${d} d`;
}

/** A local clock time ("14:05") or date ("12 Mar 14:05") for tooltips. */
export function formatClock(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return "";
  const date = new Date(ms);
  const sameDay = new Date(now).toDateString() === date.toDateString();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (sameDay) return time;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

/** Read a JSON value from localStorage, falling back on any problem. */
export function loadPref(key, fallback) {
  try {
    const raw = window.localStorage.getItem(`sessiond.${key}`);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

export function savePref(key, value) {
  try {
    window.localStorage.setItem(`sessiond.${key}`, JSON.stringify(value));
  } catch {
    // Private mode or storage full: the option just isn't remembered.
  }
}
