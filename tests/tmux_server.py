"""A real tmux server for the terminal tests, on a private socket, killed afterwards."""

from __future__ import annotations

import shlex
import subprocess
import sys
import uuid
from pathlib import Path

STANDIN = Path(__file__).parent / "standin" / "claude"


class TmuxServer:
    def __init__(self) -> None:
        # Short, under /tmp: a unix socket path must fit in 108 bytes.
        self.socket = f"/tmp/sessiond-test-{uuid.uuid4().hex[:10]}"
        self.tmux("new-session", "-d", "-s", "main", "-x", "160", "-y", "40")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True, timeout=10)
        return done.stdout.strip()

    def window(self, command: list[str], cwd: Path, name: str) -> str:
        """A new window (made active) running `command` in `cwd`; its pane id."""
        return self.tmux("new-window", "-P", "-F", "#{pane_id}", "-n", name, "-c", str(cwd),
                         shlex.join(command))

    def standin(self, projects: Path, session_id: str, record: Path, cwd: Path, *,
                hook_state: Path | None = None, start_after: Path | None = None,
                name: str = "agent") -> str:
        """The stand-in `claude` in a new window; its pane id."""
        command = [sys.executable, str(STANDIN), str(projects), session_id, str(record)]
        if hook_state is not None:
            command += ["--hook", str(hook_state)]
        if start_after is not None:
            command += ["--start-after", str(start_after)]
        return self.window(command, cwd, name)

    def display(self, target: str, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", target, fmt)

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=10)
        Path(self.socket).unlink(missing_ok=True)
