"""The table: each figure beside its target (issue 9), met or missed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    figure: str
    value: float | None  # None: not measurable here (the note says why)
    unit: str
    target: float | None = None  # met when value <= target
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None or math.isnan(self.value):
            return None
        return self.value <= self.target


def rows_for(name: str, r: Any) -> list[Row]:
    if name == "latency":
        targets = {1: (10.0, 20.0), 100: (None, 30.0), 1000: (None, 150.0)}
        rows: list[Row] = []
        for one in r:
            n = one["clients"]
            p50_target, p99_target = targets.get(n, (None, None))
            note = _losses(one)
            rows.append(Row(f"file → SSE, {_clients(n)}: p50", one["p50_ms"], "ms", p50_target, note))
            rows.append(Row(f"file → SSE, {_clients(n)}: p99", one["p99_ms"], "ms", p99_target,
                            f"max {one['max_ms']:.1f} ms; last client p99 "
                            f"{one['last_client']['p99_ms']:.1f} ms"))
        biggest = max(r, key=lambda one: one["clients"])
        rows.append(Row(f"memory per SSE client ({biggest['clients']} clients)",
                        biggest["kb_per_client"], "KB", 20.0 if biggest["clients"] >= 1000 else None,
                        f"{biggest['kb_per_client_after_events']:.1f} KB after the events"))
        return rows
    if name == "hooks":
        if not r["wired"]:
            return [Row("hook → SSE p99", None, "ms", 5.0,
                        f"n/a (hooks not wired: no transition; HTTP {r['http_status']})")]
        return [Row("hook → SSE p50", r["p50_ms"], "ms", None, f"{r['samples']} samples"),
                Row("hook → SSE p99", r["p99_ms"], "ms", 5.0, f"max {r['max_ms']:.1f} ms")]
    if name == "decisions":
        if not r["samples"]:
            return [Row("decision → agent p99", None, "ms", 5.0, "n/a (no request was held)")]
        wrong = f"; {r['wrong']} wrong answer(s)" if r["wrong"] else ""
        return [Row("decision → agent p50", r["p50_ms"], "ms", None, f"{r['samples']} decisions"),
                Row("decision → agent p99", r["p99_ms"], "ms", 5.0, f"max {r['max_ms']:.1f} ms{wrong}")]
    if name == "startup":
        size = f"{r['files']} files, {r['bytes'] / 2**30:.2f} GB; read {r['read_fraction']:.1%} of it"
        return [Row("start-up: launch → /health ok", r["health_s"], "s", None, size),
                Row("start-up: launch → first snapshot", r["snapshot_s"], "s", 2.0,
                    f"median of {len(r['runs'])}")]
    if name == "load":
        label = f"load ({r['sessions']} sessions, {r['lines_per_s']:.0f} lines/s)"
        return [Row(f"{label}: p99", r["p99_ms"], "ms", 50.0, f"p50 {r['p50_ms']:.1f} ms"),
                Row(f"{label}: dropped", r["dropped"], "events", 0.0,
                    f"{r['received']}/{r['expected']} received"),
                Row(f"{label}: CPU", r["cpu_percent"], "% of a core", 60.0),
                Row(f"{label}: peak RSS", r["peak_rss_mb"], "MB", None)]
    if name == "idle":
        label = f"idle ({r['sessions']} sessions, {r['clients']} clients, {r['seconds']:.0f} s)"
        return [Row(f"{label}: CPU", r["cpu_percent"], "% of a core", 0.2,
                    f"{r['cpu_ms']:.0f} ms of CPU"),
                Row(f"{label}: wakeups", r["wakeups_per_s"], "/s", None),
                Row(f"{label}: RSS", r["rss_mb"], "MB", 60.0)]
    if name == "bursts":
        return [Row(f"burst (line every 50 ms for {r['seconds']:.0f} s) → end of turn: p50",
                    r["p50_ms"], "ms", None),
                Row("burst → end of turn: max", r["max_ms"], "ms", 20.0,
                    "target: the 1-client p99 (no debounce holds a busy session back)")]
    if name == "shutdown":
        s, m = r["shutdown"], r["hook_memory"]
        return [Row(f"SIGTERM → exited, {s['clients']} SSE clients connected", s["max_s"], "s", 2.0,
                    f"p50 {s['p50_s']:.2f} s over {s['runs']} runs"),
                Row(f"RSS growth over {m['rounds']} × {m['posts']} hook POSTs", m["growth_kb"] / 1024, "MB",
                    20.0,
                    f"after a warm-up burst, from {m['rss_before_mb']} MB; statuses {m['statuses']}"),
                Row(f"peak RSS growth reading a {r['huge']['size_mb']} MB transcript appended live",
                    r["huge"]["peak_growth_mb"], "MB", 150.0,
                    f"{r['huge']['lines']} lines read in {r['huge']['seconds']} s, from "
                    f"{r['huge']['rss_before_mb']} MB")]
    if name == "accuracy":
        rows = _opencode_accuracy(r["opencode"]) if "opencode" in r else []
        if not r.get("files"):
            return [Row("accuracy", None, "", None, f"n/a ({r.get('note')})"), *rows]
        for version, s in r["by_version"].items():
            label = f"accuracy, Claude {version} ({s['moments']} moments)"
            approval, waiting = s["waiting_for_approval"], s["waiting_for_input"]
            rows.append(Row(f"{label}: false alarms", s["false_alarm_rate"] * 100 if s["working"] else None,
                            "% of working", 1.0 if version == "all" else None,
                            f"{s['false_end_of_turn']} false ends of turn, {s['false_approval']} false "
                            f"approvals of {s['working']} working moments"))
            for name, part in (("approval", approval), ("input", waiting)):
                if part["labelled"]:
                    rows.append(Row(f"{label}: {name} recall", part["recall"] * 100, "%", None,
                                    f"precision {_pct(part['precision'])}; time to know p50 "
                                    f"{_secs(part['know_p50_s'])}, p90 {_secs(part['know_p90_s'])}; "
                                    f"{part['labelled']} labelled"))
        return rows
    if name == "bus":
        remote, fan = r["remote"], r["fan_in"]
        rows = []
        if remote.get("received"):
            rows.append(Row("bus: a's append → b's SSE client, p99", remote["p99_ms"], "ms", 20.0,
                            f"p50 {remote['p50_ms']:.1f} ms; {remote['received']}/{remote['appends']} "
                            f"received, {remote['wrong']} wrong"))
        else:
            rows.append(Row("bus: a's append → b's SSE client, p99", None, "ms", 20.0,
                            f"n/a ({remote.get('note', 'nothing received')})"))
        if fan.get("received"):
            label = f"bus fan-in ({fan['machines']} machines × {fan['sessions'] // fan['machines']} sessions"
            label += f", {fan['per_s']:.0f} transitions/s)"
            rows += [Row(f"{label}: p99", fan["p99_ms"], "ms", 50.0,
                         f"p50 {fan['p50_ms']:.1f} ms; {fan['received']}/{fan['transitions']} received"),
                     Row(f"{label}: CPU", fan["cpu_percent"], "% of a core", 30.0),
                     Row(f"{label}: RSS", fan["rss_mb"], "MB", None)]
        else:
            note = fan.get("note", "nothing received")
            rows.append(Row("bus fan-in p99", None, "ms", 50.0, f"n/a ({note})"))
        return rows
    if name == "opencode":
        lat, cost = r["latency"], r["reads"]
        rows = [Row("OpenCode database → SSE p50", lat.get("p50_ms"), "ms", None,
                    f"{lat['samples']}/{lat['wanted']} samples"),
                Row("OpenCode database → SSE p99", lat.get("p99_ms"), "ms", 150.0,
                    f"max {lat.get('max_ms', 0):.1f} ms; polled every 50 ms")]
        size = f"{cost['parts']:,} parts, {cost['db_mb']} MB"
        rows += [Row("OpenCode read: by its event log", cost["event_read_cpu_ms"], "ms", 5.0,
                     f"CPU, 30 new events in {size}"),
                 Row("OpenCode read: scan by time", cost["scan_cpu_ms"], "ms", None,
                     f"CPU, {size} (first read; databases without an event log)"),
                 Row("OpenCode idle polling", cost["poll_cpu_percent"], "%", 0.5,
                     "of a core, 20 checks a second")]
        return rows
    if name == "terminals":
        d, f = r["discovery"], r["focus"]
        found = (f"{d['agents_found']}/{d['agents']} agents found, {d['sessions_matched']} sessions "
                 f"matched, {d['processes_on_machine']} processes; first (cold) refresh "
                 f"{d['cold_cpu_ms']:.1f} ms")
        rows = [Row(f"terminal discovery ({d['agents']} agents, {d['others']} other processes): "
                    "CPU per refresh", d["cpu_ms_p50"], "ms", 20.0, found)]
        if f["samples"]:
            rows.append(Row("focus: API call → tmux pane active, p99", f["p99_ms"], "ms", 50.0,
                            f"p50 {f['p50_ms']:.1f} ms, {f['samples']} samples"))
        else:
            rows.append(Row("focus: API call → tmux pane active, p99", None, "ms", 50.0,
                            f"n/a ({f.get('note', 'no sample')})"))
        return rows
    raise ValueError(name)


def _opencode_accuracy(r: dict[str, Any]) -> list[Row]:
    label = f"accuracy, OpenCode 1.18.33 ({r['moments']} moments, {r['files']} real sessions)"
    rows = [Row(f"{label}: false alarms", r["false_alarms"], f"of {r['working']} working", 0.0)]
    for name, key in (("approval", "waiting_for_approval"), ("input", "waiting_for_input")):
        part = r[key]
        rows.append(Row(f"{label}: {name} right", part["right"], f"of {part['labelled']}", None,
                        f"said {part['said']} times, right {part['said_right']}"))
    return rows


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2g} s"


def _losses(one: dict[str, Any]) -> str:
    missing = one["expected"] - one["received"]
    parts = [f"{one['received']}/{one['expected']} deliveries"]
    if missing or one["wrong"] or one["lost_connections"]:
        parts.append(f"{missing} missing, {one['wrong']} unmatched, "
                     f"{one['lost_connections']} connections lost")
    return "; ".join(parts)


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if value == int(value) and abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[Row], *, thresholds: bool = True) -> str:
    header = ("figure", "measured", "target", "" if not thresholds else "met", "note")
    lines = []
    for r in rows:
        target = f"≤ {_fmt(r.target)} {r.unit}" if r.target is not None else "—"
        met = "" if not thresholds or r.met is None else ("yes" if r.met else "NO")
        lines.append((r.figure, f"{_fmt(r.value)} {r.unit}", target, met, r.note))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(4)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header[:4], widths, strict=True)) + "  " + header[4]]
    out.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    out += ["  ".join(str(c).ljust(w) for c, w in zip(line[:4], widths, strict=True)) + "  " + line[4]
            for line in lines]
    return "\n".join(out)


def _clients(n: int) -> str:
    return "1 client" if n == 1 else f"{n:,} clients"
