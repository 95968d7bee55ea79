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
# The last failure, where `sessiond hooks status` and `doctor` show it (a hook must never
# fail the agent, so this file is the only place a failure can be seen).
FAILURE_NAME = "hook-failure.json"
AGENTS = ("claude", "codex", "gemini", "cursor", "copilot", "opencode")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state: Path | None = None
    agent = ""
    try:
        state, args = _state_dir(args)
        agent = args[0] if args else ""
        failure = forward(args, state)
    except BaseException as exc:  # never a traceback, never a non-zero exit
        failure = _explain(exc)
    try:
        if state is not None:
            _record(state, agent, failure)
    except BaseException:  # recording is best effort: the agent must go on regardless
        pass
    return 0


def _state_dir(args: list[str]) -> tuple[Path, list[str]]:
    if len(args) >= 2 and args[0] == "--state-dir":
        return Path(args[1]).expanduser(), args[2:]
    return _default_state_dir(), args


def _explain(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no daemon is running (no runtime.json or token in the state dir)"
    if isinstance(exc, ValueError | KeyError | TypeError):
        return "the daemon's runtime.json is unreadable"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing answers on the daemon's port (it is not running)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"the daemon did not answer within {TIMEOUT_S:g} s"
    return f"{type(exc).__name__}: {exc}"[:200]


def _record(state: Path, agent: str, failure: str | None) -> None:
    """Keep the last failure (with how many in a row) where status and doctor read it;
    a success removes it."""
    path = state / FAILURE_NAME
    if failure is None:
        if path.exists():
            path.unlink()
        return
    count = 0
    try:
        count = int(json.loads(path.read_text("utf-8")).get("count", 0))
    except (OSError, ValueError, AttributeError):
        pass
    record = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "agent": agent,
              "reason": failure, "count": count + 1}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record), "utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def forward(args: list[str], state: Path) -> str | None:
    """POST one payload; None when the daemon took it (or there was nothing to send),
    else why not, in a few words."""
    deadline = time.monotonic() + TIMEOUT_S
    if not args or args[0] not in AGENTS:
        return f"unknown agent {args[0]!r}" if args else "no agent named"
    agent = args[0]
    body = args[-1].encode("utf-8", errors="replace") if len(args) > 1 else _stdin()
    if not body.strip():
        return None  # nothing to send
    if len(body) > MAX_PAYLOAD:
        return f"a payload over {MAX_PAYLOAD} bytes was not sent"
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
        if response.status == 401:
            return "the daemon refused the hook's token (401): run `sessiond hooks install` again"
        if not 200 <= response.status < 300:
            return f"the daemon answered {response.status}"
        return None
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
