// The detail view of one session: its pending request in full (a command, a diff, a new
// file, a URL, a plan), and Allow / Deny when sessiond holds the request.
//
// Everything from the transcript or a hook is set with textContent: a `<script>` in a
// command is shown, never run. Keys inside the view: `a` allow (press twice: confirm),
// `d` deny (with the message typed, if any), Escape closes.

import { agentName } from "./names.js";
import { statusPhrase } from "./model.js";
import { el } from "./util.js";

/** Lines of a unified-style diff from `before` to `after`: common lines kept as context. */
export function diffLines(before, after) {
  const a = String(before ?? "").split("\n");
  const b = String(after ?? "").split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const context = (lines) => lines.map((line) => ["same", `  ${line}`]);
  return [
    ...context(a.slice(Math.max(0, start - 3), start)),
    ...a.slice(start, endA).map((line) => ["del", `- ${line}`]),
    ...b.slice(start, endB).map((line) => ["add", `+ ${line}`]),
    ...context(a.slice(endA, endA + 3)),
  ];
}

function pre(text, className = "detail-pre") {
  return el("pre", { className, text });
}

function diffBlock(path, before, after) {
  const block = el("pre", { className: "detail-pre diff" });
  for (const [kind, line] of diffLines(before, after)) {
    block.append(el("span", { className: `diff-${kind}`, text: `${line}\n` }));
  }
  return [el("p", { className: "detail-path", text: path || "" }), block];
}

/** The request's body, by tool: what a person needs to judge it. */
export function renderInput(tool) {
  const input = tool.input || {};
  const text = (key) => (typeof input[key] === "string" ? input[key] : "");
  switch (tool.name) {
    case "Bash":
    case "PowerShell":
      return [pre(text("command")), text("description") ? el("p", { text: text("description") }) : null];
    case "Edit":
      return diffBlock(text("file_path"), text("old_string"), text("new_string"));
    case "MultiEdit":
      return (Array.isArray(input.edits) ? input.edits : []).flatMap((edit, i) =>
        diffBlock(i === 0 ? text("file_path") : "", edit && edit.old_string, edit && edit.new_string));
    case "Write":
      return [el("p", { className: "detail-path", text: text("file_path") }), pre(text("content"))];
    case "WebFetch":
      return [el("p", { className: "detail-path", text: text("url") }), text("prompt") ? pre(text("prompt")) : null];
    case "ExitPlanMode":
      return [pre(text("plan"))];
    default:
      return [pre(tool.input ? JSON.stringify(tool.input, null, 2) : tool.summary || "")];
  }
}

export class Detail {
  constructor(parent, { decide }) {
    this.decide = decide;
    this.session = null;
    this.armed = false;
    this.message = el("input", { className: "deny-message", attrs: { type: "text", placeholder: "Why (optional, sent with Deny)" } });
    this.allowBtn = el("button", { className: "allow", text: "Allow", attrs: { type: "button" },
      on: { click: () => this.allow() } });
    this.denyBtn = el("button", { className: "deny", text: "Deny", attrs: { type: "button" },
      on: { click: () => this.deny() } });
    this.status = el("p", { className: "detail-status", attrs: { role: "status" } });
    this.body = el("div", { className: "detail-body" });
    this.conversation = el("div", { className: "detail-conversation" });
    this.root = el("section", {
      className: "detail",
      attrs: { hidden: "", role: "dialog", "aria-modal": "true", tabindex: "-1", "aria-label": "Session detail" },
      on: { keydown: (event) => this.onKey(event) },
    }, [
      el("div", { className: "detail-card" }, [
        el("button", { className: "close", text: "×", attrs: { type: "button", "aria-label": "Close" },
          on: { click: () => this.close() } }),
        this.body,
        this.conversation,
        el("div", { className: "detail-actions" }, [this.allowBtn, this.message, this.denyBtn]),
        this.status,
      ]),
    ]);
    parent.append(this.root);
  }

  get isOpen() {
    return !this.root.hidden;
  }

  open(session) {
    if (!session) return;
    this.session = session;
    this.armed = false;
    this.message.value = "";
    this.status.textContent = "";
    this.render();
    this.conversation.replaceChildren();
    this.loadConversation(session.id);
    this.root.hidden = false;
    this.root.focus();
  }

  /** The user's last prompt and the agent's last reply (only the one-session API has them). */
  async loadConversation(id) {
    let data;
    try {
      const response = await fetch(`api/sessions/${encodeURIComponent(id)}`, { cache: "no-store" });
      if (!response.ok) return;
      data = await response.json();
    } catch {
      return;
    }
    if (!this.session || this.session.id !== id) return;
    const parts = [];
    if (data.last_prompt) parts.push(el("h3", { text: "You asked" }), el("p", { className: "excerpt", text: data.last_prompt }));
    if (data.last_reply) parts.push(el("h3", { text: "The agent said" }), el("p", { className: "excerpt", text: data.last_reply }));
    this.conversation.replaceChildren(...parts);
  }

  close() {
    this.root.hidden = true;
    this.session = null;
  }

  /** A newer version of the open session (a `session` event). */
  update(session) {
    if (this.isOpen && this.session && session && session.id === this.session.id) {
      this.session = session;
      this.render();
    }
  }

  render() {
    const s = this.session;
    const tool = s.pending_tool;
    this.body.replaceChildren(
      el("h2", { text: `${agentName(s.agent)} · ${s.project || "(no project)"}` }),
      el("p", { className: "detail-sub", text: `${statusPhrase(s, Date.now())} — ${s.title || ""}` }),
      ...(tool ? [el("h3", { text: tool.name }), ...renderInput(tool).filter(Boolean)]
        : [el("p", { text: s.reason || "" })]),
    );
    const answerable = Boolean(s.decision);
    for (const button of [this.allowBtn, this.denyBtn]) button.disabled = !answerable;
    this.message.disabled = !answerable;
    this.allowBtn.textContent = this.armed ? "Confirm: allow" : "Allow";
    if (!answerable && !this.status.dataset.answered) {
      this.status.textContent = s.status === "waiting_for_approval"
        ? "This request can only be answered in its terminal (no hook holds it)."
        : "Nothing waits for an answer here.";
    }
  }

  allow() {
    if (!this.session || !this.session.decision) return;
    if (!this.armed) {
      this.armed = true;  // a second press (or `a`) confirms
      this.render();
      return;
    }
    this.send("allow");
  }

  deny() {
    if (this.session && this.session.decision) this.send("deny");
  }

  async send(behavior) {
    const s = this.session;
    this.armed = false;
    const error = await this.decide(s, behavior, behavior === "deny" ? this.message.value : "");
    this.status.dataset.answered = error ? "" : "yes";
    this.status.textContent = error || (behavior === "allow" ? "Allowed." : "Denied.");
    this.render();
  }

  onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      return;
    }
    if (event.target === this.message) {
      if (event.key === "Enter") {
        event.preventDefault();
        this.deny();
      }
      return;
    }
    if (event.key === "a") {
      event.preventDefault();
      this.allow();
    } else if (event.key === "d") {
      event.preventDefault();
      this.deny();
    }
  }
}
