// What the page does to get attention: the title and favicon badge (always), and the
// opt-in browser notification and beep on a Working→Waiting transition.

const BASE_TITLE = "sessiond";

// ---- title and favicon -----------------------------------------------------------------

let iconImage = null;
let iconReady = null;
let lastBadge = null;

function loadIcon() {
  if (!iconReady) {
    iconReady = new Promise((resolve) => {
      const img = new Image();
      img.onload = () => {
        iconImage = img;
        resolve(img);
      };
      img.onerror = () => resolve(null);
      img.src = "icon.svg";
    });
  }
  return iconReady;
}

/** "(2) sessiond" in the tab, and a red badge with the count on the favicon. */
export async function showWaitingCount(count, link) {
  document.title = count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
  if (count === lastBadge) return;
  lastBadge = count;
  if (count === 0) {
    link.href = "icon.svg";
    return;
  }
  await loadIcon();
  if (lastBadge !== count) return; // a newer count is being drawn
  link.href = badgeDataUrl(count);
}

function badgeDataUrl(count) {
  const size = 64;
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  if (iconImage) ctx.drawImage(iconImage, 0, 0, size, size);
  const text = count > 99 ? "99+" : String(count);
  const r = 19;
  const cx = size - r;
  const cy = r;
  ctx.beginPath();
  const w = text.length > 1 ? (text.length - 1) * 11 : 0;
  ctx.roundRect(cx - r - w, cy - r, 2 * r + w, 2 * r, r);
  ctx.fillStyle = "#e5484d";
  ctx.fill();
  ctx.lineWidth = 4;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
  ctx.fillStyle = "#ffffff";
  ctx.font = `bold ${text.length > 2 ? 20 : 28}px system-ui, -apple-system, "Segoe UI", sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, cx - w / 2, cy + 2);
  return canvas.toDataURL("image/png");
}

// ---- browser notifications ----------------------------------------------------------------

export function notificationsSupported() {
  return "Notification" in window;
}

/** Ask for permission (must run from a click); resolves to true when granted. */
export async function requestNotifications() {
  if (!notificationsSupported()) return false;
  if (Notification.permission === "granted") return true;
  if (Notification.permission === "denied") return false;
  try {
    return (await Notification.requestPermission()) === "granted";
  } catch {
    return false;
  }
}

export function notify(session, onClick) {
  if (!notificationsSupported() || Notification.permission !== "granted") return;
  const approval = session.status === "waiting_for_approval";
  const where = session.branch ? `${session.project} (${session.branch})` : session.project;
  const tool = session.pending_tool;
  const body = tool && tool.name
    ? `${tool.name}${tool.summary ? `: ${tool.summary}` : ""}`
    : session.title || session.reason || "";
  try {
    const n = new Notification(`${approval ? "Needs approval" : "Waiting for you"} · ${where}`, {
      body: body.length > 180 ? `${body.slice(0, 179)}…` : body,
      icon: "icon.png",
      tag: `sessiond-${session.id}`,
    });
    n.onclick = () => {
      window.focus();
      onClick(session.id);
      n.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker: nothing to do.
  }
}

// ---- sound ----------------------------------------------------------------------------------

let audio = null;

/** Create (or resume) the AudioContext; call from a click so the browser allows it. */
export function unlockSound() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!audio) audio = new Ctx();
  if (audio.state === "suspended") audio.resume().catch(() => {});
}

/** Two short soft tones: rising for approval, falling for input. */
export function beep(status) {
  if (!audio) unlockSound();
  if (!audio) return;
  const notes = status === "waiting_for_approval" ? [660, 880] : [880, 660];
  const start = audio.currentTime + 0.01;
  notes.forEach((freq, i) => {
    const t = start + i * 0.13;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.18, t + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.12);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.13);
  });
}
