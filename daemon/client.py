"""A small blocking client for the daemon's HTTP API, used by the CLI.

It finds the daemon through `runtime.json` in the state dir and speaks the shapes of
`protocol.py`, so `sessiond status` and the daemon share one definition of the wire.
Only the standard library is used: the CLI starts fast and never needs an event loop.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessiond.protocol import Health, Session
from sessiond.statedir import RUNTIME_NAME, TOKEN_NAME, read_runtime_quietly, read_token


class DaemonUnavailable(Exception):
    """No daemon answers; the message is one sentence for the user."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    token: str | None = None


def find_daemon(state_dir: Path, port: int | None = None) -> Endpoint:
    """Where the daemon listens: `runtime.json`, else the configured port."""
    token = read_token(state_dir / TOKEN_NAME)
    info = read_runtime_quietly(state_dir / RUNTIME_NAME)
    if info is not None:
        return Endpoint("127.0.0.1", info.port, token)
    if port is None:
        raise DaemonUnavailable(f"No sessiond is running (no runtime.json in {state_dir}).")
    return Endpoint("127.0.0.1", port, token)


def request(
    endpoint: Endpoint, method: str, path: str, body: Any = None, *, timeout: float = 3.0
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    headers = {"Host": f"127.0.0.1:{endpoint.port}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if endpoint.token:
        # Writes need it; reads too when the daemon runs with --allow-remote. It only
        # ever goes to loopback, to the daemon whose state dir it was read from.
        headers["Authorization"] = f"Bearer {endpoint.token}"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except OSError as exc:
        raise DaemonUnavailable(
            f"No sessiond answers on 127.0.0.1:{endpoint.port} ({exc.strerror or exc})."
        ) from exc
    finally:
        conn.close()
    if not raw:
        return response.status, None
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", errors="replace")


def get_health(endpoint: Endpoint) -> Health:
    status, body = request(endpoint, "GET", "/health")
    if not isinstance(body, dict) or status not in (200, 503):
        raise DaemonUnavailable(f"The daemon on port {endpoint.port} answered /health with {status}.")
    return Health.from_json(body)


def get_sessions(endpoint: Endpoint) -> list[Session]:
    status, body = request(endpoint, "GET", "/api/sessions")
    if status != 200 or not isinstance(body, dict):
        raise DaemonUnavailable(f"The daemon on port {endpoint.port} answered /api/sessions with {status}.")
    return [Session.from_json(s) for s in body.get("sessions", [])]



def follow_events(endpoint: Endpoint) -> Iterator[tuple[str, Any]]:
    """The daemon's event stream, as (event, data) pairs, until it closes (blocking)."""
    conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=None)
    headers = {"Host": f"127.0.0.1:{endpoint.port}", "Accept": "text/event-stream"}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    try:
        conn.request("GET", "/events", headers=headers)
        response = conn.getresponse()
        if response.status != 200:
            raise DaemonUnavailable(f"The daemon on port {endpoint.port} answered /events with "
                                    f"{response.status}.")
        kind, data = "message", []
        while True:
            line = response.readline()
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if text.startswith("event:"):
                kind = text[6:].strip()
            elif text.startswith("data:"):
                data.append(text[5:].strip())
            elif not text and data:
                try:
                    yield kind, json.loads("\n".join(data))
                except ValueError:
                    pass  # not JSON: nothing a table can show
                kind, data = "message", []
    except OSError as exc:
        raise DaemonUnavailable(
            f"No sessiond answers on 127.0.0.1:{endpoint.port} ({exc.strerror or exc})."
        ) from exc
    finally:
        conn.close()
