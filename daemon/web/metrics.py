"""`GET /metrics` in the Prometheus text format.

The interesting figure is latency: each transition records how long after its signal
(a line read, a hook received, a deadline reached) it was published, kept here as one
histogram per source.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sessiond.protocol import Transition

if TYPE_CHECKING:
    from sessiond.engine.coordinator import Engine
    from sessiond.engine.hub import EventHub

BUCKETS_MS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0)


@dataclass(slots=True)
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_MS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value_ms: float) -> None:
        self.counts[bisect_left(BUCKETS_MS, value_ms)] += 1
        self.total += value_ms
        self.n += 1

    def render(self, name: str, labels: str) -> list[str]:
        lines, running = [], 0
        for bound, count in zip(BUCKETS_MS, self.counts, strict=False):
            running += count
            lines.append(f'{name}_bucket{{{labels},le="{bound / 1000:g}"}} {running}')
        lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.n}')
        lines.append(f"{name}_sum{{{labels}}} {self.total / 1000:.6f}")
        lines.append(f"{name}_count{{{labels}}} {self.n}")
        return lines


@dataclass(slots=True)
class Metrics:
    latency: dict[str, Histogram] = field(default_factory=dict)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    hooks: Counter[tuple[str, str]] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)
    # Other components' own metrics text (the notifier's toast counters).
    extra_text: list[Callable[[], str]] = field(default_factory=list)

    def on_transition(self, transition: Transition) -> None:
        self.transitions[(transition.source, transition.to_status)] += 1
        if transition.latency_ms is not None:
            self.latency.setdefault(transition.source, Histogram()).observe(transition.latency_ms)

    def render(self, engine: Engine, hub: EventHub) -> str:
        out = [
            "# HELP sessiond_sessions Sessions by status.",
            "# TYPE sessiond_sessions gauge",
        ]
        by_status = Counter(s.status for s in engine.sessions.values())
        out += [f'sessiond_sessions{{status="{k}"}} {v}' for k, v in sorted(by_status.items())]
        out += [
            "# TYPE sessiond_sse_clients gauge",
            f"sessiond_sse_clients {hub.clients}",
            "# TYPE sessiond_sse_clients_dropped_total counter",
            f"sessiond_sse_clients_dropped_total {hub.dropped_clients}",
            "# HELP sessiond_sse_buffered_bytes What SSE clients hold unsent (bounded by sse_budget_mb).",
            "# TYPE sessiond_sse_buffered_bytes gauge",
            f"sessiond_sse_buffered_bytes {hub.budget.used}",
            "# TYPE sessiond_sse_clients_cut_total counter",
            f"sessiond_sse_clients_cut_total {hub.budget.cut}",
            "# TYPE sessiond_last_event_id gauge",
            f"sessiond_last_event_id {hub.last_id}",
            "# TYPE sessiond_lines_read_total counter",
            f"sessiond_lines_read_total {engine.stats.lines}",
            "# TYPE sessiond_lines_skipped_total counter",
            f"sessiond_lines_skipped_total {engine.stats.skipped_lines}",
            "# TYPE sessiond_garbage_lines_total counter",
            f"sessiond_garbage_lines_total {engine.stats.garbage_lines}",
            "# TYPE sessiond_transitions_total counter",
        ]
        out += [
            f'sessiond_transitions_total{{source="{src}",to="{to}"}} {n}'
            for (src, to), n in sorted(self.transitions.items())
        ]
        out.append("# TYPE sessiond_decisions_total counter")
        out += [
            f'sessiond_decisions_total{{behavior="{behavior}",via="{via}"}} {n}'
            for (behavior, via), n in sorted(engine.decisions.counts.items())
        ]
        out.append("# TYPE sessiond_hook_events_total counter")
        out += [
            f'sessiond_hook_events_total{{agent="{agent}",event="{event}"}} {n}'
            for (agent, event), n in sorted(self.hooks.items())
        ]
        for name, n in sorted(self.counters.items()):
            out += [f"# TYPE sessiond_{name} counter", f"sessiond_{name} {n}"]
        out += [
            "# HELP sessiond_transition_latency_seconds Signal to publish, by source.",
            "# TYPE sessiond_transition_latency_seconds histogram",
        ]
        for source, hist in sorted(self.latency.items()):
            out += hist.render("sessiond_transition_latency_seconds", f'source="{source}"')
        out += [part().rstrip("\n") for part in self.extra_text]
        return "\n".join(out) + "\n"
