"""The OpenCode rules judged on real OpenCode sessions (tests/data/opencode/, recorded from
opencode-ai 1.18.33 itself by scripts/capture_opencode.py).

Labels come from OpenCode's own event history, from what happened next, never from
sessiond's rules:
- a tool part `running` without metadata is OpenCode asking for permission when its next
  change came 2 s or more later, or was a refusal (an allowed tool starts within 0.11 s in
  these files; OpenCode sets metadata the moment it starts): labelled waiting for approval
  just before that change; otherwise working, halfway;
- a started tool (metadata) is working, halfway through and just before it ends;
- a prompt is working half a second after it was sent, if nothing changed by then;
- an assistant message that completes with any finish but "tool-calls", or with an error,
  is waiting for input a second later; a refused tool ends the turn too.
Each labelled moment is replayed through the rules with the daemon's default thresholds.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "opencode"
ASKING_AFTER_S = 2.0


@dataclass(frozen=True)
class Moment:
    at_ms: int
    label: str
    what: str


def events(path: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(path.read_text(encoding="utf-8"))
    found = conn.execute("SELECT seq, type, data FROM event ORDER BY seq")
    return [(int(seq), str(kind), str(data)) for seq, kind, data in found]


def label(rows: list[Any]) -> list[Moment]:
    """`rows`: `(seq, Row)` from OpenCode's event history, in order."""
    moments: list[Moment] = []
    tools: dict[str, tuple[int, dict[str, Any]]] = {}  # part id -> (since, its state)
    refused: set[str] = set()  # messages with a refused tool
    for n, (_seq, row) in enumerate(rows):
        at, data = row.updated_ms, row.data
        if row.kind == "part" and data.get("type") == "tool":
            state = data.get("state") or {}
            before = tools.get(row.id)
            if before is not None and _phase(before[1]) == _phase(state):
                continue  # output growing: nothing new happened
            tools[row.id] = (at, state)
            if "rejected permission" in str(state.get("error", "")):
                refused.add(str(data.get("messageID")))
            if before is None:
                continue
            since, old = before
            tool = data.get("tool")
            if old.get("status") == "running" and "metadata" not in old:
                if at - since >= ASKING_AFTER_S * 1000 or str(data.get("messageID")) in refused:
                    moments.append(Moment(at - 50, "waiting_for_approval", f"{tool} asked"))
                else:
                    moments.append(Moment((since + at) // 2, "working", f"{tool} starting"))
            elif old.get("status") == "running":
                moments.append(Moment((since + at) // 2, "working", f"{tool} running"))
                if at - since > 1000:
                    moments.append(Moment(at - 50, "working", f"{tool} about to end"))
        elif row.kind == "message" and data.get("role") == "user":
            following = next((r.updated_ms for _, r in rows[n + 1:] if r.updated_ms > at), None)
            if following is not None and following > at + 500:
                moments.append(Moment(at + 500, "working", "prompt sent"))
        elif row.kind == "message" and "completed" in (data.get("time") or {}) and (
            data.get("error") or data.get("finish") != "tool-calls" or row.id in refused
        ):
            moments.append(Moment(at + 1000, "waiting_for_input", "the turn ended"))
    return moments


def _phase(state: dict[str, Any]) -> tuple[Any, bool]:
    return state.get("status"), "metadata" in state


def judge(path: Path) -> list[dict[str, Any]]:
    from sessiond.sources.base import FileInfo, Thresholds, classify
    from sessiond.sources.opencode.history import records_of, rows_from_events
    from sessiond.sources.opencode.transcript import OpenCodeSource

    rows = list(rows_from_events(events(path)))
    moments = sorted(label(rows), key=lambda m: m.at_ms)
    records = list(records_of(rows))
    source, limits = OpenCodeSource(), Thresholds()
    out = []
    for moment in moments:
        state = source.new_state(FileInfo("opencode", path.stem))
        for n, (_seq, record) in enumerate(records, 1):
            at = source.record_time(record)
            if at is None or at > _time(moment.at_ms):
                break
            state.feed(record, n, at)
        said = classify(state, _time(moment.at_ms), limits).status
        out.append({"file": path.name, "label": moment.label, "said": said, "what": moment.what})
    return out


def _time(ms: int) -> datetime:
    from sessiond.sources.opencode.transcript import at_time

    found = at_time(ms)
    assert found is not None
    return found


def run(data: Path = DATA) -> dict[str, Any]:
    files = sorted(data.glob("*.sql"))
    verdicts = [v for path in files for v in judge(path)]
    working = [v for v in verdicts if v["label"] == "working"]
    out: dict[str, Any] = {"files": len(files), "moments": len(verdicts), "working": len(working),
                           "false_alarms": sum(1 for v in working if v["said"] != "working")}
    for state in ("waiting_for_approval", "waiting_for_input"):
        labelled = [v for v in verdicts if v["label"] == state]
        said = [v for v in verdicts if v["said"] == state]
        out[state] = {"labelled": len(labelled), "right": sum(1 for v in labelled if v["said"] == state),
                      "said": len(said), "said_right": sum(1 for v in said if v["label"] == state)}
    out["wrong"] = [v for v in verdicts if v["label"] != v["said"]]
    return out
