"""iTerm2 and Terminal.app on macOS: the tab whose tty is the agent's is selected and its
window raised, through `osascript`. Neither takes typed input from here (AppleScript's
`write text` would run in whatever the tab shows; not worth the risk). osascript cannot
run here: the scripts are built by pure functions and tested for the exact argv.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sessiond.protocol import Terminal
from sessiond.terminals.place import Place
from sessiond.terminals.run import ActionFailed, run

Runner = Callable[..., Awaitable[str]]
# A tty path is put inside the script: only a plain device path is accepted.
_TTY = re.compile(r"/dev/[A-Za-z0-9]+")

_ITERM = """tell application "iTerm2"
  repeat with w in windows
    repeat with t in tabs of w
      repeat with s in sessions of t
        if tty of s is "{tty}" then
          select w
          tell t to select
          tell s to select
          activate
          return "ok"
        end if
      end repeat
    end repeat
  end repeat
end tell
return "none"
"""

_TERMINAL_APP = """tell application "Terminal"
  repeat with w in windows
    repeat with t in tabs of w
      if tty of t is "{tty}" then
        set selected of t to true
        set index of w to 1
        activate
        return "ok"
      end if
    end repeat
  end repeat
end tell
return "none"
"""


def place_of(kind: str, tty: str | None, pid: int) -> Place | None:
    if tty is None or not _TTY.fullmatch(tty) or kind not in ("iterm2", "terminal_app"):
        return None
    name = "iTerm2" if kind == "iterm2" else "Terminal"
    return Place(Terminal("iterm2" if kind == "iterm2" else "terminal_app", f"{name} {tty}", pid,
                          can_send=False), tty=tty)


def focus_argv(place: Place) -> list[str]:
    if not _TTY.fullmatch(place.tty):
        raise ActionFailed("The terminal's tty is not a device path.")
    script = _ITERM if place.terminal.kind == "iterm2" else _TERMINAL_APP
    return ["osascript", "-e", script.format(tty=place.tty)]


async def focus(place: Place, runner: Runner = run) -> None:
    if (await runner(focus_argv(place))).strip() != "ok":
        raise ActionFailed(f"No {place.terminal.target.split()[0]} tab shows {place.tty} any more.")
