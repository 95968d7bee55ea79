// The detail view of one session: its pending request in full (a command, a diff, a new
// file, a URL, a plan), and Allow / Deny when sessiond holds the request.
//
// Everything from the transcript or a hook is set with textContent: a `<script>` in a
// command is shown, never run. Keys inside the view: `a` allow (press twice: confirm),
// `d` deny (with the message typed, if any), `g` go to the agent's terminal, `r` to the
// reply box (Enter sends the line, then Enter in the terminal), Escape closes.

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

/** The questions of a pending AskUserQuestion: [{question, options: [label]}]. */
export function questionsOf(tool) {
  if (!tool || tool.name !== "AskUserQuestion" || !tool.input || !Array.isArray(tool.input.questions)) return [];
  return tool.input.questions
    .filter((q) => q && typeof q.question === "string")
    .map((q) => ({
      question: q.question,
      options: (Array.isArray(q.options) ? q.options : [])
        .map((o) => (o && typeof o.label === "string" ? o.label : typeof o === "string" ? o : ""))
        .filter(Boolean),
    }));
}

export class Detail {
  constructor(parent, { decide, goto, reply }) {
    this.decide = decide;
    this.goto = goto;
    this.reply = reply;
    this.where = el("p", { className: "detail-where" });
    this.gotoBtn = el("button", { className: "goto", text: "Go to terminal", attrs: { type: "button" },
      on: { click: () => this.goTo() } });
    this.replyText = el("input", { className: "reply-text",
      attrs: { type: "text", placeholder: "Reply (typed into the agent's terminal, then Enter)", maxlength: "8192" } });
    this.replyBtn = el("button", { className: "reply-send", text: "Send", attrs: { type: "button" },
      on: { click: () => this.sendReply(this.replyText.value, true) } });
    this.options = el("div", { className: "reply-options" });
    this.replyBox = el("div", { className: "detail-reply", attrs: { hidden: "" } }, [
      this.options, el("div", { className: "reply-row" }, [this.replyText, this.replyBtn]),
    ]);
    this.session = null;
    this.armed = false;
    this.message = el("input", { className: "deny-message", attrs: { type: "text", placeholder: "Why (optional, sent with Deny)" } });
    this.allowBtn = el("button", { className: "allow", text: "Allow", attrs: { type: "button" },
      on: { click: () => this.allow() } });
    this.denyBtn = el("button", { className: "deny", text: "Deny", attrs: { type: "button" },
      on: { click: () => this.deny() } });
    this.actions = el("div", { className: "detail-actions" }, [this.allowBtn, this.message, this.denyBtn]);
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
        el("div", { className: "detail-place" }, [this.where, this.gotoBtn]),
        this.conversation,
        this.actions,
        this.replyBox,
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
    this.replyText.value = "";
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
    // Why no terminal is known travels with the next event only: take it from here too.
    if (typeof data.terminal_note === "string" && data.terminal_note !== this.session.terminal_note) {
      this.session = { ...this.session, terminal_note: data.terminal_note };
      this.render();
    }
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
    this.renderPlace(s, tool);
    const answerable = Boolean(s.decision);
    for (const button of [this.allowBtn, this.denyBtn]) button.disabled = !answerable;
    this.message.disabled = !answerable;
    this.allowBtn.textContent = this.armed ? "Confirm: allow" : "Allow";
    // Allow / Deny belong to a permission prompt; a finished turn gets the Reply box.
    this.actions.hidden = !answerable && s.status !== "waiting_for_approval";
    if (!answerable && !this.status.dataset.answered) {
      const guessed = (s.reason || "").includes("(likely: no hooks)")
        ? " This wait is guessed from the transcript: `sessiond hooks install` makes it exact." : "";
      this.status.textContent = s.status === "waiting_for_approval"
        ? "This request can only be answered in its terminal (no hook holds it, and sessiond cannot type into it)." + guessed
        : this.replyBox.hidden ? "Nothing waits for an answer here." : "";
    }
  }

  /** Where the agent runs, and the reply box when its terminal takes typed input. */
  renderPlace(s, tool) {
    const t = s.terminal;
    this.where.textContent = t ? `Runs in ${t.kind} ${t.target}`
      : s.terminal_note ? `No terminal known: it ${s.terminal_note}.` : "";
    this.gotoBtn.hidden = !t;
    const questions = questionsOf(tool);
    const waits = s.status === "waiting_for_input" || s.status === "waiting_for_approval";
    this.replyBox.hidden = !(t && t.can_send && waits && (s.status === "waiting_for_input" || questions.length));
    const parts = [];
    for (const q of questions.slice(0, 1)) {  // the prompt shows one question at a time
      parts.push(el("p", { className: "reply-question", text: q.question }));
      q.options.forEach((label, i) => {
        parts.push(el("button", { className: "chip reply-option", text: `${i + 1}. ${label}`,
          attrs: { type: "button", "data-key": String(i + 1) },
          on: { click: () => this.sendReply(String(i + 1), false) } }));
      });
    }
    this.options.replaceChildren(...parts);
  }

  async goTo() {
    if (!this.session || !this.session.terminal) return;
    const error = await this.goto(this.session);
    this.status.textContent = error || `Focused ${this.session.terminal.target}.`;
  }

  async sendReply(text, enter) {
    if (!this.session || (!text && enter === false)) return;
    const error = await this.reply(this.session, text, enter);
    if (!error) this.replyText.value = "";
    this.status.textContent = error || "Sent to the terminal.";
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
    if (event.target === this.replyText) {
      if (event.key === "Enter") {
        event.preventDefault();
        this.sendReply(this.replyText.value, true);
      }
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
    } else if (event.key === "g") {
      event.preventDefault();
      this.goTo();
    } else if (event.key === "r" && !this.replyBox.hidden) {
      event.preventDefault();
      this.replyText.focus();
    }
  }
}
