"""Running a terminal's own command-line tool (tmux, kitten, wezterm, osascript): never a
shell, always an argv, bounded in time; every failure becomes one sentence."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

TIMEOUT_S = 3.0


class ActionFailed(Exception):
    """A terminal could not be found, focused or typed into; the message is one sentence."""


async def run(argv: Sequence[str], *, stdin: bytes | None = None, timeout: float = TIMEOUT_S) -> str:
    """The command's standard output; ActionFailed when it is missing, slow or fails."""
    program = os.path.basename(argv[0])
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ActionFailed(f"{program} cannot be run here ({exc.strerror or exc}).") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ActionFailed(f"{program} did not answer within {timeout:g} s.") from None
    if proc.returncode != 0:
        detail = err.decode("utf-8", errors="replace").strip().splitlines()
        why = detail[0][:200] if detail else f"exit status {proc.returncode}"
        raise ActionFailed(f"{program} failed: {why.rstrip('.')}.")
    return out.decode("utf-8", errors="replace")
