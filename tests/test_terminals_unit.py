"""The terminal finder's pure parts: recognising agents, matching sessions to processes,
telling terminals apart, and the exact command lines sent to each terminal.

kitty, WezTerm and osascript (iTerm2, Terminal.app) cannot run on this Linux machine
without a display, so their command lines are checked here, argv for argv; tmux runs for
real in tests/test_terminals_tmux.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sessiond.protocol import Terminal
from sessiond.sources import plugins
from sessiond.terminals import kitty, macos, tmux, wezterm
from sessiond.terminals.locate import locate, why_not_found
from sessiond.terminals.matching import (
    AgentProcess,
    ProcessFacts,
    WantedSession,
    agent_ancestor,
    agent_of,
    assign,
)
from sessiond.terminals.place import Place, TmuxLead
from sessiond.terminals.run import ActionFailed, run

from tests.waiting import wait_for

AGENTS = {p.agent: p.process_names for p in plugins().values()}
DISPLAY = {p.agent: p.display_name for p in plugins().values()}


@pytest.mark.parametrize(("name", "argv", "agent"), [
    ("claude", ["claude"], "claude"),
    ("node", ["node", "/usr/local/bin/claude", "--resume"], "claude"),
    ("node", ["node", "--no-warnings", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"], "claude"),
    ("python3", ["python3", "/home/u/tests/standin/claude", "x"], "claude"),
    ("node", ["node", "/usr/lib/node_modules/@openai/codex/bin/codex.js"], "codex"),
    ("codex", ["/home/u/.local/bin/codex", "resume"], "codex"),
    ("node", ["node", "/opt/homebrew/bin/gemini"], "gemini"),
    ("cursor-agent", ["cursor-agent"], "cursor"),
    ("node", ["node", "/srv/app/server.js"], None),
    ("bash", ["bash", "-c", "claude"], None),  # a shell that will start it is not it
    ("vim", ["vim", "claude.md"], None),
    ("python3", ["python3", "-m", "http.server"], None),
])
def test_which_processes_are_agents(name: str, argv: list[str], agent: str | None) -> None:
    assert agent_of(name, argv, AGENTS) == agent


def test_the_forwarder_pid_is_followed_up_through_a_shell() -> None:
    assert agent_ancestor([(40, None), (30, "claude"), (1, None)]) == 30
    assert agent_ancestor([(40, None), (1, None)]) is None


def proc(pid: int, started: float, tty: str | None, cwd: str = "/w/app", agent: str = "claude"
         ) -> AgentProcess:
    return AgentProcess(pid, agent, cwd, started, tty)


def want(sid: str, first_seen: float | None, cwd: str = "/w/app", agent: str = "claude") -> WantedSession:
    return WantedSession(sid, agent, cwd, first_seen)


def test_one_agent_in_the_folder_is_the_session_s() -> None:
    others = [proc(7, 50.0, "/dev/pts/1"), proc(8, 50.0, "/dev/pts/2", cwd="/w/other")]
    assert assign([want("s", 100.0)], others, DISPLAY)["s"].pid == 7


def test_an_agent_started_after_the_session_began_did_not_write_it() -> None:
    result = assign([want("s", 100.0)], [proc(7, 500.0, "/dev/pts/1")], DISPLAY)
    assert result["s"].pid is None
    assert result["s"].note == "no running Claude process was found in /w/app"


def test_two_agents_in_one_folder_are_ambiguous_unless_start_times_tell() -> None:
    both_before = assign([want("a", 100.0), want("b", 101.0)],
                         [proc(7, 50.0, "/dev/pts/1"), proc(8, 60.0, "/dev/pts/2")], DISPLAY)
    assert both_before["a"].pid is None and both_before["b"].pid is None
    assert both_before["a"].note.startswith("ambiguous: 2 Claude processes run in /w/app")
    # The second agent started after session a began: a is the first's, so b the second's.
    told = assign([want("a", 100.0), want("b", 300.0)],
                  [proc(7, 50.0, "/dev/pts/1"), proc(8, 200.0, "/dev/pts/2")], DISPLAY)
    assert (told["a"].pid, told["b"].pid) == (7, 8)


def test_a_launcher_and_its_program_on_one_tty_are_one_candidate() -> None:
    result = assign([want("s", 100.0)], [proc(7, 50.0, "/dev/pts/1"), proc(9, 50.5, "/dev/pts/1")], DISPLAY)
    assert result["s"].pid == 7


def test_a_process_goes_to_its_newest_session() -> None:
    result = assign([want("old", 100.0), want("new", 200.0)], [proc(7, 50.0, "/dev/pts/1")], DISPLAY)
    assert result["new"].pid == 7
    assert result["old"].pid is None and "newer session" in result["old"].note


def facts(env: dict[str, str], tty: str | None = "/dev/pts/4", ancestors: tuple[str, ...] = ("bash",)
          ) -> ProcessFacts:
    return ProcessFacts(proc(7, 1.0, tty), env, ancestors)


def test_which_terminal_an_agent_runs_in() -> None:
    lead = locate(facts({"TMUX": "/tmp/tmux-1000/default,123,0", "TMUX_PANE": "%3"}), "Linux")
    assert lead == TmuxLead("/tmp/tmux-1000/default", "%3", "/dev/pts/4")
    # tmux inside kitty: the pane is where the agent is.
    inside = locate(facts({"TMUX": "/tmp/s,1,0", "KITTY_WINDOW_ID": "2"}), "Linux")
    assert isinstance(inside, TmuxLead)
    kitty_place = locate(facts({"KITTY_WINDOW_ID": "2", "KITTY_LISTEN_ON": "unix:/tmp/kitty"}), "Linux")
    assert isinstance(kitty_place, Place)
    assert kitty_place.terminal == Terminal("kitty", "kitty window 2", 7, can_send=True)
    assert locate(facts({"KITTY_WINDOW_ID": "2"}), "Linux") == kitty.NO_REMOTE_CONTROL
    wez = locate(facts({"WEZTERM_PANE": "12"}), "Linux")
    assert isinstance(wez, Place) and wez.pane == "12" and wez.terminal.kind == "wezterm"
    iterm = locate(facts({"TERM_PROGRAM": "iTerm.app"}, tty="/dev/ttys003"), "Darwin")
    assert isinstance(iterm, Place) and iterm.terminal.kind == "iterm2" and not iterm.terminal.can_send
    app = locate(facts({"TERM_PROGRAM": "Apple_Terminal"}, tty="/dev/ttys004"), "Darwin")
    assert isinstance(app, Place) and app.terminal.kind == "terminal_app"
    assert locate(facts({}, tty=None), "Linux").startswith("runs without a terminal")  # type: ignore[union-attr]
    # Nothing known in the environment: the user's tmux servers are searched by tty.
    assert locate(facts({}), "Linux") == TmuxLead(None, None, "/dev/pts/4")


def test_why_no_terminal_is_one_sentence_naming_the_terminal() -> None:
    assert why_not_found(facts({"TERM_PROGRAM": "vscode"})) == "runs in a VS Code terminal: focus it there"
    assert "GNOME Terminal" in why_not_found(facts({}, ancestors=("bash", "gnome-terminal-server")))
    assert why_not_found(facts({}, ancestors=("bash", "xterm"))) == \
        "runs in a terminal sessiond cannot drive (xterm): focus it there"


def test_tmux_command_lines() -> None:
    assert tmux.focus_argv("/tmp/s", "%3", "/dev/pts/9") == [
        ["tmux", "-S", "/tmp/s", "select-window", "-t", "%3"],
        ["tmux", "-S", "/tmp/s", "select-pane", "-t", "%3"],
        ["tmux", "-S", "/tmp/s", "switch-client", "-c", "/dev/pts/9", "-t", "%3"],
    ]
    assert tmux.send_argv("/tmp/s", "%3", "-x Enter", True) == [
        ["tmux", "-S", "/tmp/s", "send-keys", "-t", "%3", "-l", "--", "-x Enter"],
        ["tmux", "-S", "/tmp/s", "send-keys", "-t", "%3", "Enter"],
    ]
    assert tmux.latest_client("100\t/dev/pts/1\n300\t/dev/pts/2\n200\t/dev/pts/3\n") == "/dev/pts/2"
    assert tmux.latest_client("") is None
    panes = tmux.parse_panes("%1\t/dev/pts/1\tmain:0.0\ngarbage\n")
    assert panes == [tmux.Pane("%1", "/dev/pts/1", "main:0.0")]
    assert tmux.socket_from_env({"TMUX": "/tmp/tmux-0/default,99,1"}) == "/tmp/tmux-0/default"


def test_kitty_command_lines() -> None:
    place = Place(Terminal("kitty", "kitty window 2", 7, True), socket="unix:/tmp/kitty-7", pane="2")
    assert kitty.focus_argv(place) == ["kitten", "@", "--to", "unix:/tmp/kitty-7", "focus-window",
                                       "--match", "id:2"]
    assert kitty.send_argv(place) == ["kitten", "@", "--to", "unix:/tmp/kitty-7", "send-text",
                                      "--match", "id:2", "--stdin"]
    # Through stdin, kitty sends text as is: a backslash escape stays two characters.
    assert kitty.send_input(r"say \e[2J", True) == b"say \\e[2J\r"


def test_wezterm_command_lines() -> None:
    place = Place(Terminal("wezterm", "wezterm pane 12", 7, True), pane="12")
    assert wezterm.focus_argv(place) == ["wezterm", "cli", "activate-pane", "--pane-id", "12"]
    assert wezterm.send_argv(place, "-y") == ["wezterm", "cli", "send-text", "--pane-id", "12",
                                              "--no-paste", "--", "-y"]
    with_socket = Place(place.terminal, socket="/run/user/1/wezterm/gui-sock-5", pane="12")
    assert wezterm.focus_argv(with_socket)[:4] == ["wezterm", "cli", "--unix-socket",
                                                   "/run/user/1/wezterm/gui-sock-5"]
    listing = '[{"pane_id": 3, "tty_name": "/dev/pts/2"}, {"pane_id": 12, "tty_name": "/dev/pts/4"}]'
    assert wezterm.pane_for_tty(listing, "/dev/pts/4") == "12"
    assert wezterm.pane_for_tty("not json", "/dev/pts/4") is None


def test_macos_scripts_name_the_tty_and_refuse_anything_else() -> None:
    place = macos.place_of("iterm2", "/dev/ttys003", 7)
    assert place is not None
    argv = macos.focus_argv(place)
    assert argv[:2] == ["osascript", "-e"]
    assert 'tell application "iTerm2"' in argv[2] and 'if tty of s is "/dev/ttys003"' in argv[2]
    app = macos.place_of("terminal_app", "/dev/ttys004", 7)
    assert app is not None and 'tell application "Terminal"' in macos.focus_argv(app)[2]
    # A tty that is not a plain device path never reaches a script.
    assert macos.place_of("iterm2", '/dev/ttys1" & do shell script "x', 7) is None
    forged = Place(Terminal("iterm2", "iTerm2", 7, False), tty='/dev/x"; beep; "')
    with pytest.raises(ActionFailed):
        macos.focus_argv(forged)


def test_a_missing_or_failing_program_is_one_sentence() -> None:
    with pytest.raises(ActionFailed, match=r"^no-such-terminal-tool cannot be run here"):
        asyncio.run(run(["no-such-terminal-tool", "x"]))
    with pytest.raises(ActionFailed, match=r"^sh failed: nope\.$"):
        asyncio.run(run(["sh", "-c", "echo nope >&2; exit 3"]))
    assert asyncio.run(run(["sh", "-c", "cat"], stdin=b"as is")) == "as is"


def test_the_process_table_finds_real_agents_and_remembers_the_rest(tmp_path: Path) -> None:
    """Real processes: `sleep` under the name `claude` is an agent, in its folder; a scan
    after it reuses what it read; a new agent (its name read afresh) is found too."""
    import shutil
    import subprocess

    from sessiond.terminals.processes import ProcessTable

    claude = tmp_path / "claude"
    claude.symlink_to(shutil.which("sleep") or "/bin/sleep")
    table = ProcessTable(AGENTS)
    first = subprocess.Popen([str(claude), "60"], cwd=tmp_path, stdin=subprocess.DEVNULL)
    try:
        found = {f.process.pid: f for f in table.scan()}
        assert found[first.pid].process.agent == "claude"
        assert found[first.pid].process.cwd == str(tmp_path)
        assert found[first.pid].process.tty is None  # started here, not in a terminal
        again = {f.process.pid: f for f in table.scan()}
        assert again[first.pid] is found[first.pid]
        second = subprocess.Popen([str(claude), "60"], cwd=tmp_path, stdin=subprocess.DEVNULL)
        try:
            assert {first.pid, second.pid} <= {f.process.pid for f in table.scan()}
        finally:
            second.kill()
            second.wait()
        # Killed and not reaped yet (a zombie, as a killed agent in a closed pane stays for
        # a while): no longer an agent that runs, though table.scan() knew it before.
        first.kill()
        import psutil

        wait_for(lambda: psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE)
        assert first.pid not in {f.process.pid for f in table.scan()}
    finally:
        first.kill()
        first.wait()
    assert first.pid not in {f.process.pid for f in table.scan()}

