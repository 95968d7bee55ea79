// One EventSource on /events, with our own reconnect policy.
//
// The browser's EventSource reconnects by itself at the server's `retry:` pace. We
// want 1 s doubling to 30 s with jitter instead, so on any error the source is closed
// and a new one is opened after the backoff, resuming with `?last_event_id=N` (the
// last id we processed). Events at or below that id are dropped, so a replay never
// applies anything twice.

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
// A connection that stayed up this long (or delivered anything) resets the backoff,
// so a server that accepts and at once drops us is not hammered every second.
const STABLE_MS = 2000;
// After this many failed attempts in a row the indicator says "offline".
const OFFLINE_AFTER = 3;

export const STATES = ["connecting", "live", "reconnecting", "offline", "stopped"];

export class Connection {
  /**
   * @param {object} opts
   * @param {string} opts.url the stream, normally "/events"
   * @param {object} opts.handlers onSnapshot(data), onSession(s), onTransition(t),
   *   onRemoved(r), onReset(), onLive(resumed)
   * @param {function} opts.onState called with (state, {retryAt, attempt})
   */
  constructor({ url = "events", handlers, onState }) {
    this.url = url;
    this.handlers = handlers;
    this.onState = onState;
    this.source = null;
    this.lastId = null;
    this.attempt = 0;
    this.state = "connecting";
    this.stopped = false; // the daemon said `shutdown`
    this.retryTimer = null;
    this.retryAt = null;
    this.openedAt = 0;
    this.gotEvent = false;
  }

  start() {
    this._open();
  }

  /** Reconnect now instead of waiting for the backoff (e.g. the network came back). */
  retryNow() {
    if (this.source || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this._open();
  }

  _setState(state) {
    this.state = state;
    this.onState(state, { retryAt: this.retryAt, attempt: this.attempt });
  }

  _open() {
    this.retryAt = null;
    const resuming = this.lastId !== null;
    const url = resuming ? `${this.url}?last_event_id=${encodeURIComponent(this.lastId)}` : this.url;
    const source = new EventSource(url);
    this.source = source;
    this.openedAt = 0;
    this.gotEvent = false;
    if (this.state !== "stopped") {
      this._setState(this.attempt === 0 && !resuming ? "connecting" : this.state);
    }

    source.addEventListener("open", () => {
      if (source !== this.source) return;
      this.openedAt = Date.now();
      this.stopped = false;
      this._setState("live");
      if (resuming) this._checkResume(source);
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      this._lost();
    });

    const on = (type, fn) =>
      source.addEventListener(type, (event) => {
        if (source !== this.source) return;
        let data;
        try {
          data = event.data ? JSON.parse(event.data) : {};
        } catch {
          console.warn(`sessiond: unreadable ${type} event`, event.data);
          return;
        }
        this.gotEvent = true;
        fn(data, event);
      });

    on("snapshot", (data, event) => {
      const id = Number(data.last_event_id ?? event.lastEventId);
      this.lastId = Number.isFinite(id) ? id : null;
      this.handlers.onSnapshot(data);
    });
    for (const [type, handler] of [
      ["session", "onSession"],
      ["transition", "onTransition"],
      ["removed", "onRemoved"],
    ]) {
      on(type, (data, event) => {
        const id = Number(event.lastEventId);
        if (event.lastEventId !== "" && Number.isFinite(id)) {
          if (this.lastId !== null && id <= this.lastId) return; // already applied
          this.lastId = id;
        }
        this.handlers[handler](data);
      });
    }
    on("reset", () => {
      // The daemon no longer holds our id: a fresh snapshot follows on this stream.
      this.lastId = null;
      this.handlers.onReset();
    });
    on("shutdown", () => {
      this.stopped = true;
      this.attempt = 0;
      this._lost();
    });
  }

  /**
   * A resumed stream sends no snapshot, so after a reconnect we look once at
   * /api/sessions (one request per reconnect, not polling):
   * - if the daemon's ids went backwards (it lost its history), a resume would drop
   *   everything it sends: start over with a fresh snapshot;
   * - if it is at exactly the id we have applied, its sessions must be what we show;
   *   `onVerify` replaces the board when they are not (a restarted daemon may have
   *   found changes at start-up that it published no event for).
   */
  async _checkResume(source) {
    let data;
    try {
      const response = await fetch("api/sessions", { cache: "no-store" });
      if (!response.ok) return;
      data = await response.json();
    } catch {
      return; // the stream's own error handling covers a daemon that went away again
    }
    if (source !== this.source || typeof data.last_event_id !== "number") return;
    if (this.lastId !== null && data.last_event_id < this.lastId) {
      console.warn("sessiond: event ids went backwards; reloading the snapshot");
      this.lastId = null;
      source.close();
      this.source = null;
      this._open();
    } else if (data.last_event_id === this.lastId && Array.isArray(data.sessions)) {
      this.handlers.onVerify?.(data.sessions);
    }
  }

  _lost() {
    const source = this.source;
    if (source) source.close();
    this.source = null;
    const stable = this.gotEvent || (this.openedAt && Date.now() - this.openedAt >= STABLE_MS);
    if (stable && !this.stopped) this.attempt = 0;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    // Jitter: ±25 %, never above the cap, so many tabs don't reconnect in step.
    const delay = Math.min(MAX_DELAY_MS, Math.round(base * (0.75 + Math.random() * 0.5)));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this._open();
    }, delay);
    if (this.stopped) this._setState("stopped");
    else this._setState(this.attempt > OFFLINE_AFTER ? "offline" : "reconnecting");
  }
}
