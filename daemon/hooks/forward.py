"""`sessiond-hook [--state-dir DIR] AGENT [PAYLOAD]`: an agent's command hook, forwarded to the daemon.

Agents whose hooks can only run commands (Codex, Gemini CLI, Claude Code's SessionStart)
run this. It reads the hook's JSON (the last argument when given, as Codex's `notify`
passes it; else stdin), POSTs it to the running daemon's `/hooks/AGENT` (port from
`runtime.json`, token from the state dir) within 2 s with its parent's pid (the agent's
terminal is found from it), prints nothing, and always exits 0:
a hook's output can be read as a decision or injected into the model's context
(agent-hooks.md §1.3, §3, §5), and a failing hook must never get in the agent's way.

Only the standard library is imported, so it starts fast: PreToolUse-style hooks are
synchronous, and the agent waits for this process.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import time
from pathlib import Path

TIMEOUT_S = 2.0
MAX_PAYLOAD = 1024 * 1024
AGENTS = ("claude", "codex", "gemini", "cursor", "copilot")


def main(argv: list[str] | None = None) -> int:
    try:
        forward(sys.argv[1:] if argv is None else argv)
    except BaseException:  # never a traceback, never a non-zero exit
        pass
    return 0


def forward(args: list[str]) -> bool:
    """POST one payload; True when the daemon answered 2xx."""
    deadline = time.monotonic() + TIMEOUT_S
    state_dir: Path | None = None
    if len(args) >= 2 and args[0] == "--state-dir":
        state_dir, args = Path(args[1]).expanduser(), args[2:]
    if not args or args[0] not in AGENTS:
        return False
    agent = args[0]
    body = args[-1].encode("utf-8", errors="replace") if len(args) > 1 else _stdin()
    if not body.strip() or len(body) > MAX_PAYLOAD:
        return False
    state = state_dir or _default_state_dir()
    port = int(json.loads((state / "runtime.json").read_text("utf-8"))["port"])
    token = (state / "token").read_text("utf-8").strip()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.connect()
        _budget(conn, deadline)
        conn.request(
            "POST",
            f"/hooks/{agent}",
            body=body,
            headers={
                "Host": f"127.0.0.1:{port}",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                # Which process ran this hook (the agent, or the shell it runs hooks
                # with): the daemon finds the agent's terminal from it.
                "X-Sessiond-Agent-Pid": str(os.getppid()),
            },
        )
        _budget(conn, deadline)
        response = conn.getresponse()
        response.read()
        return 200 <= response.status < 300
    finally:
        conn.close()


def _budget(conn: http.client.HTTPConnection, deadline: float) -> None:
    """The 2 s are for the whole exchange, not for each socket operation."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("out of time")
    if isinstance(conn.sock, socket.socket):
        conn.sock.settimeout(left)


def _stdin() -> bytes:
    stream = sys.stdin
    if stream is None or stream.closed or stream.isatty():
        return b""
    return stream.buffer.read(MAX_PAYLOAD + 1)


def _default_state_dir() -> Path:
    # The same rule as sessiond.config.default_state_dir, without importing the daemon.
    if os.environ.get("SESSIOND_STATE_DIR"):
        return Path(os.environ["SESSIOND_STATE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("sessiond", appauthor=False))


if __name__ == "__main__":
    sys.exit(main())
