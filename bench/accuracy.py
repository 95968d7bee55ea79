"""Accuracy on real transcripts: labels from what each file itself shows happened next,
never from sessiond's rules; then the daemon's pure rules replayed against them.

Labelled moments (Claude Code; the other agents' files do not show enough of what
happened next to label without sessiond's own rules, and are left out):

- **waiting_for_approval** (a prompt was on screen), from a tool call to its result: the
  result says the user rejected it; or the call is ExitPlanMode; or it is an Edit/Write
  in `default` mode or a trivial command (`git status`, `ls`, `mkdir`…) whose result came
  ≥ 20 s later, with no progress line and no other call in between.
- **waiting_for_input**: a reply that ends a turn (text, no call) followed ≥ 30 s later by a
  new real prompt, from the reply to the prompt.
- **working**: a text followed ≥ 12 s later by a call of the same turn (a preamble); a call
  followed ≥ 3 s later by another call of the same message (still streaming); a Bash call
  with progress lines before its result; a prompt just sent, until the next line.

Each moment is classified at offsets after its deciding line (the state as of then: every
line written by that time fed in file order). Reported per version range: recall and
precision of both waiting states, false alarms (a working moment called waiting, as an end
of turn or an approval) and time to know (the first offset with the right state).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import accuracy_opencode
from bench.stats import percentile

OFFSETS_S = (0.0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 45, 60, 90, 120, 180, 300)
EDITS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
TRIVIAL = ("git status", "git diff", "git log", "ls", "mkdir", "pwd", "cat ", "echo ", "which ", "head ",
           "tail ", "wc ", "touch ")
REJECTED = ("doesn't want to proceed", "was rejected", "user rejected", "User rejected")
# User lines that are not prompts: a hook that stopped the turn, local commands.
NOT_PROMPTS = ("Operation stopped by hook", "<command-", "<local-command")
APPROVAL_GAP = timedelta(seconds=20)
INPUT_GAP = timedelta(seconds=30)
PREAMBLE_GAP = timedelta(seconds=12)
STREAM_GAP = timedelta(seconds=3)
# Bash progress starts ~2 s after a command runs: first progress this soon after the call
# means it ran at once.
RUNS_AT_ONCE = timedelta(seconds=4)


@dataclass(frozen=True, slots=True)
class Line:
    index: int  # position in the file (0-based), records only
    record: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class Moment:
    label: str  # "waiting_for_approval" | "waiting_for_input" | "working"
    kind: str  # why: "rejected", "plan", "slow-edit", "reply-end", "preamble", "streaming", ...
    line: int  # index of the deciding line
    start: datetime
    end: datetime
    version: str


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_lines(path: Path) -> list[Line]:
    out: list[Line] = []
    for raw in path.read_bytes().splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        at = parse_time(record.get("timestamp")) if isinstance(record, dict) else None
        if at is not None:
            out.append(Line(len(out), record, at))
    return out


def _blocks(record: dict[str, Any]) -> list[dict[str, Any]]:
    content = (record.get("message") or {}).get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _calls(line: Line) -> list[dict[str, Any]]:
    if line.record.get("type") != "assistant":
        return []
    return [b for b in _blocks(line.record) if b.get("type") == "tool_use"]


def _has_text(line: Line) -> bool:
    return line.record.get("type") == "assistant" and any(
        b.get("type") == "text" and str(b.get("text", "")).strip() for b in _blocks(line.record))


def _is_prompt(line: Line) -> bool:
    """A real prompt the user typed (not a tool result, a meta line or an interrupt)."""
    r = line.record
    if r.get("type") != "user" or r.get("isMeta") or r.get("isSidechain"):
        return False
    if r.get("toolUseResult") is not None:
        return False
    content = (r.get("message") or {}).get("content")
    if isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return False
        text = " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    else:
        text = str(content or "")
    if "[Request interrupted" in text or text.startswith(NOT_PROMPTS):
        return False
    return bool(text.strip())


def _results(lines: Sequence[Line]) -> dict[str, tuple[Line, dict[str, Any]]]:
    found: dict[str, tuple[Line, dict[str, Any]]] = {}
    for line in lines:
        if line.record.get("type") == "user":
            for b in _blocks(line.record):
                if b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str):
                    found.setdefault(b["tool_use_id"], (line, b))
    return found


def _version(record: dict[str, Any]) -> str:
    version = str(record.get("version") or "")
    parts = version.split(".")
    return ".".join(parts[:2]) + ".x" if len(parts) >= 2 else "unknown"


def _approval(kind: str, call: Line, result: Line, version: str) -> Moment:
    return Moment("waiting_for_approval", kind, call.index, call.at, result.at, version)


def label(lines: Sequence[Line]) -> list[Moment]:
    """Every labelled moment of one Claude transcript (main session lines only)."""
    main = [ln for ln in lines if not ln.record.get("isSidechain")]
    results = _results(main)
    moments: list[Moment] = []
    mode = "default"
    progress_of: dict[str, int] = {}
    first_progress: dict[str, datetime] = {}
    for ln in main:
        if ln.record.get("type") == "progress":
            parent = ln.record.get("parentToolUseID")
            if isinstance(parent, str) and (ln.record.get("data") or {}).get("type") == "bash_progress":
                progress_of[parent] = progress_of.get(parent, 0) + 1
                first_progress.setdefault(parent, ln.at)
    for i, ln in enumerate(main):
        r = ln.record
        if r.get("type") == "user" and isinstance(r.get("permissionMode"), str):
            mode = r["permissionMode"]
        nxt = main[i + 1] if i + 1 < len(main) else None
        version = _version(r)
        if _is_prompt(ln) and nxt is not None and nxt.at > ln.at:
            moments.append(Moment("working", "prompt-sent", ln.index, ln.at, nxt.at, version))
        calls = _calls(ln)
        for call in calls:
            cid, name = call.get("id"), str(call.get("name", ""))
            result = results.get(cid) if isinstance(cid, str) else None
            if result is None:
                continue
            res_line, block = result
            text = json.dumps(block.get("content"), ensure_ascii=False)
            between = [x for x in main if ln.at < x.at < res_line.at]
            alone = not any(_calls(x) for x in between)
            command = str((call.get("input") or {}).get("command", "")).strip()
            if any(word in text for word in REJECTED):
                moments.append(_approval("rejected", ln, res_line, version))
            elif name == "ExitPlanMode":
                moments.append(_approval("plan", ln, res_line, version))
            elif alone and res_line.at - ln.at >= APPROVAL_GAP and progress_of.get(cid, 0) == 0 and (
                    (name in EDITS and mode == "default")
                    or (name == "Bash" and command.startswith(TRIVIAL))):
                kind = "slow-edit" if name in EDITS else "slow-command"
                moments.append(_approval(kind, ln, res_line, version))
            elif name == "Bash" and first_progress.get(cid) is not None and \
                    first_progress[cid] - ln.at <= RUNS_AT_ONCE:
                # Progress from the start: it ran at once, no prompt was on screen. (Progress
                # that begins later may follow an approval: left unlabelled.)
                moments.append(Moment("working", "bash-progress", ln.index, ln.at, res_line.at, version))
        # A call followed ≥ 3 s later by another call of the same message: still streaming.
        if calls and nxt is not None:
            mid = (r.get("message") or {}).get("id")
            later = next((x for x in main[i + 1:] if _calls(x)), None)
            if later is not None and mid and (later.record.get("message") or {}).get("id") == mid \
                    and later.at - ln.at >= STREAM_GAP and not any(
                        x.record.get("type") == "user" for x in main[i + 1: later.index]):
                moments.append(Moment("working", "streaming", ln.index, ln.at, later.at, version))
        if _has_text(ln) and not calls and nxt is not None:
            # What comes next in this turn: a call (a preamble) or a new prompt (a reply end).
            turn_rest = []
            for x in main[i + 1:]:
                if _is_prompt(x):
                    break
                turn_rest.append(x)
            next_call = next((x for x in turn_rest if _calls(x)), None)
            if next_call is not None and next_call.at - ln.at >= PREAMBLE_GAP and not any(
                    _has_text(x) for x in turn_rest if x.at < next_call.at):
                moments.append(Moment("working", "preamble", ln.index, ln.at, next_call.at, version))
            elif next_call is None and not any(_has_text(x) for x in turn_rest):
                prompt = next((x for x in main[i + 1:] if _is_prompt(x)), None)
                if prompt is not None and prompt.at - ln.at >= INPUT_GAP:
                    moments.append(Moment("waiting_for_input", "reply-end", ln.index, ln.at, prompt.at,
                                          version))
    return moments


@dataclass
class Verdicts:
    """What the rules said of one moment at each offset (None: not sampled)."""

    moment: Moment
    said: list[tuple[float, str]] = field(default_factory=list)

    def first_right(self) -> float | None:
        return next((off for off, status in self.said if status == self.moment.label), None)

    def said_waiting(self) -> set[str]:
        return {status for _, status in self.said if status.startswith("waiting")}


def evaluate(path: Path, lines: Sequence[Line], moments: Iterable[Moment]) -> Iterator[Verdicts]:
    """Classify each moment's state at each offset, with the daemon's rules and defaults."""
    from sessiond.sources.base import FileInfo, Thresholds, classify
    from sessiond.sources.claude.transcript import ClaudeSource

    source = ClaudeSource()
    info = FileInfo("claude", path.stem)
    limits = Thresholds()
    for moment in moments:
        verdicts = Verdicts(moment)
        state = source.new_state(info)
        fed = 0
        for offset in OFFSETS_S:
            now = moment.start + timedelta(seconds=offset)
            if now >= moment.end:
                break
            while fed < len(lines) and (lines[fed].index <= moment.line or lines[fed].at <= now):
                state.feed(lines[fed].record, lines[fed].index + 1, lines[fed].at)
                fed += 1
            verdicts.said.append((offset, classify(state, now, limits).status))
        yield verdicts


def run_on(corpus: Path) -> dict[str, Any]:
    verdicts: list[Verdicts] = []
    files = sorted((corpus / "claude").glob("*.jsonl"))
    for path in files:
        lines = read_lines(path)
        verdicts.extend(evaluate(path, lines, label(lines)))
    table: dict[str, Any] = {}
    for version in [*sorted({v.moment.version for v in verdicts}), "all"]:
        chosen = [v for v in verdicts if version in ("all", v.moment.version)]
        table[version] = summarize(chosen)
    return {"files": len(files), "moments": len(verdicts), "by_version": table,
            "by_kind": {k: summarize([v for v in verdicts if v.moment.kind == k])
                        for k in sorted({v.moment.kind for v in verdicts})}}


def summarize(verdicts: Sequence[Verdicts]) -> dict[str, Any]:
    out: dict[str, Any] = {"moments": len(verdicts)}
    working = [v for v in verdicts if v.moment.label == "working"]
    out["working"] = len(working)
    out["false_end_of_turn"] = sum(1 for v in working if "waiting_for_input" in v.said_waiting())
    out["false_approval"] = sum(1 for v in working if "waiting_for_approval" in v.said_waiting())
    alarms = sum(1 for v in working if v.said_waiting())
    out["false_alarm_rate"] = round(alarms / len(working), 4) if working else None
    for state in ("waiting_for_approval", "waiting_for_input"):
        labelled = [v for v in verdicts if v.moment.label == state]
        said = [v for v in verdicts if state in v.said_waiting()]
        hits = [v for v in labelled if v.first_right() is not None]
        times = [t for v in hits if (t := v.first_right()) is not None]
        out[state] = {
            "labelled": len(labelled),
            "recall": round(len(hits) / len(labelled), 4) if labelled else None,
            "precision": round(sum(1 for v in said if v.moment.label == state) / len(said), 4)
            if said else None,
            "know_p50_s": percentile(times, 50) if times else None,
            "know_p90_s": percentile(times, 90) if times else None,
        }
    return out


def run(corpus: Path | None = None) -> dict[str, Any]:
    root = corpus or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
    opencode = accuracy_opencode.run()
    if not (root / "claude").is_dir():
        return {"files": 0, "note": f"no corpus at {root}", "opencode": opencode}
    return {**run_on(root), "opencode": opencode}
