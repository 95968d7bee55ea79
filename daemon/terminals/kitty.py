"""kitty, through its remote control (`kitten @`): needs `allow_remote_control` and a
`listen_on` socket in kitty.conf, which kitty passes to its windows as `KITTY_LISTEN_ON`.

The window is matched by its id (`KITTY_WINDOW_ID` in the agent's environment). Text goes
through `--stdin`, which kitty sends as is (text given as an argument follows Python
escape rules, so `\\e` in a reply would become an escape key). kitty cannot run here:
the argv builders are pure and tested for the exact command lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from sessiond.protocol import Terminal
from sessiond.terminals.place import Place
from sessiond.terminals.run import run

Runner = Callable[..., Awaitable[str]]
NO_REMOTE_CONTROL = ("runs in kitty without remote control: set allow_remote_control and "
                     "listen_on in kitty.conf, or focus it there")


def place_of(env: Mapping[str, str], pid: int) -> Place | str:
    """The kitty window, or why it cannot be reached."""
    window, socket = env.get("KITTY_WINDOW_ID", ""), env.get("KITTY_LISTEN_ON", "")
    if not window.isdigit():
        return "runs in kitty, but its window id is unknown: focus it there"
    if not socket:
        return NO_REMOTE_CONTROL
    return Place(Terminal("kitty", f"kitty window {window}", pid, can_send=True), socket=socket, pane=window)


def focus_argv(place: Place) -> list[str]:
    return ["kitten", "@", "--to", place.socket, "focus-window", "--match", f"id:{place.pane}"]


def send_argv(place: Place) -> list[str]:
    return ["kitten", "@", "--to", place.socket, "send-text", "--match", f"id:{place.pane}", "--stdin"]


def send_input(text: str, enter: bool) -> bytes:
    """What `send_argv` reads on stdin: the text, and a carriage return for Enter."""
    return (text + ("\r" if enter else "")).encode("utf-8")


async def focus(place: Place, runner: Runner = run) -> None:
    await runner(focus_argv(place))


async def send(place: Place, text: str, enter: bool, runner: Runner = run) -> None:
    await runner(send_argv(place), stdin=send_input(text, enter))
