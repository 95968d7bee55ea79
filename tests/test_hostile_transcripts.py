"""Issue 8, hostile transcripts: a real daemon fed symlinks, special files, unreadable
files, garbage and a 1 GB transcript. It must read only under the agents' roots, never
block or loop, warn once per bad file, keep its memory flat and show only bounded text.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sessiond.engine.hub import encode_frame
from sessiond.protocol import MAX_TITLE, PendingTool, Session, bound, clip
from sessiond.read.jsonl import decode_line

from tests import daemon_proc
from tests.daemon_proc import DaemonProcess, make_daemon, running
from tests.sse import SSEClient
from tests.transcripts import ClaudeTranscript, now_iso
from tests.waiting import wait_for

# Sweeps every half second, so "nothing happened" is checked after several of them.
SETTINGS = """
[daemon]
approval_after_s = 0.5
settle_after_s = 0.3
sweep_every_s = 0.5
"""


@pytest.fixture(params=["inotify", "watchfiles"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(daemon_proc, "WATCH_BACKEND", request.param)
    return str(request.param)


def warnings(daemon: DaemonProcess) -> list[dict[str, Any]]:
    """The daemon's warnings, from its JSON log file."""
    out = []
    for line in (daemon.state_dir / "sessiond.log").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") == "warning":
            out.append(entry)
    return out



def healthy(daemon: DaemonProcess) -> bool:
    status, body = daemon.get("/health")
    return status == 200 and isinstance(body, dict)


def settle(daemon: DaemonProcess) -> None:
    """Let the watcher and several sweeps run, then make sure the daemon still answers."""
    time.sleep(1.6)
    assert healthy(daemon), daemon.output()


# -- symlinks ---------------------------------------------------------------------------


def test_symlinks_out_of_the_root_and_symlink_loops_are_ignored(tmp_path: Path, backend: str) -> None:
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    # The Claude root itself may be reached through a symlink (dotfiles); that is fine.
    real_config = tmp_path / "d" / "claude-real"
    (real_config / "projects").mkdir(parents=True)
    (tmp_path / "d" / "claude").symlink_to(real_config)
    projects = daemon.claude_projects
    outside = tmp_path / "outside"
    secret = ClaudeTranscript(outside / "proj-parent", cwd="/secret/place")
    secret.write(secret.prompt("a secret outside the root"))
    secret_dir = secret.path.parent

    legit = ClaudeTranscript(projects, cwd="/home/u/app")
    legit.write(legit.prompt("the legitimate session"))
    (projects / "loop").symlink_to(projects)  # a cycle through the root
    (legit.path.parent / "self").symlink_to(".")  # a cycle inside a project
    (projects / "etc").symlink_to("/etc")
    (projects / "outside-proj").symlink_to(secret_dir)  # a symlinked project directory
    (legit.path.parent / f"{uuid.uuid4()}.jsonl").symlink_to(secret.path)  # a symlinked file
    (legit.path.parent / f"{uuid.uuid4()}.jsonl").symlink_to("/dev/zero")
    with running(daemon):
        assert set(daemon.sessions()) == {legit.session_id}
        # While it runs: the outside transcript grows, new ones appear, new links too.
        secret.write(secret.tool_use("Bash", {"command": "cat ~/.ssh/id_rsa"}))
        other = ClaudeTranscript(outside / "proj-parent", cwd="/secret/other")
        other.write(other.prompt("another secret"))
        (projects / "late-link").symlink_to(secret_dir)
        late_project = tmp_path / "outside" / "late"
        late = ClaudeTranscript(late_project, cwd="/secret/late")
        late.write(late.prompt("written before its link"))
        (projects / "late-proj").symlink_to(late.path.parent)
        late.write(late.reply("and after it"))
        second = ClaudeTranscript(projects, cwd="/home/u/other")
        second.write(second.prompt("a second legitimate session"))
        wait_for(lambda: second.session_id in daemon.sessions())
        settle(daemon)
        sessions = daemon.sessions()
        assert set(sessions) == {legit.session_id, second.session_id}
        assert all(not s["cwd"].startswith("/secret") for s in sessions.values())
        assert daemon.get("/metrics")[0] == 200
    assert "Traceback" not in daemon.output()


# -- special and unreadable files ------------------------------------------------------------


def make_special_files(directory: Path, tag: str) -> tuple[list[Path], list[socket.socket]]:
    """A FIFO, a directory, a socket and (as root) a device, all named like transcripts."""
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    fifo = directory / f"fifo-{tag}.jsonl"
    os.mkfifo(fifo)
    made.append(fifo)
    folder = directory / f"dir-{tag}.jsonl"
    folder.mkdir()
    made.append(folder)
    sock_path = directory / f"sock-{tag}.jsonl"
    # A Unix socket path is limited to ~108 bytes and temp dirs can be deeper: bind at a
    # short path, then move the socket file into place (a rename keeps the socket).
    short_dir = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(short_dir / "s"))
        (short_dir / "s").rename(sock_path)
    except OSError:
        sock.close()
        raise
    finally:
        shutil.rmtree(short_dir, ignore_errors=True)
    made.append(sock_path)
    if os.geteuid() == 0:
        device = directory / f"dev-{tag}.jsonl"
        os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
        made.append(device)
    return made, [sock]


def test_fifos_devices_sockets_and_directories_are_skipped_with_one_warning_each(
    tmp_path: Path, backend: str
) -> None:
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    legit = ClaudeTranscript(daemon.claude_projects)
    legit.write(legit.prompt("hello"))
    project = legit.path.parent
    at_start, socks = make_special_files(project, "start")
    daemon.start()
    try:
        live, more = make_special_files(project, "live")
        socks += more
        # A tracked transcript replaced by a FIFO under the daemon's feet.
        victim = ClaudeTranscript(daemon.claude_projects)
        victim.write(victim.prompt("soon a FIFO"))
        wait_for(lambda: victim.session_id in daemon.sessions())
        os.mkfifo(tmp_path / "fifo")
        os.replace(tmp_path / "fifo", victim.path)
        victim_dir = victim.path.parent
        second = ClaudeTranscript(daemon.claude_projects)
        second.write(second.prompt("still working"))
        wait_for(lambda: second.session_id in daemon.sessions())
        settle(daemon)
        settle(daemon)  # more sweeps: still one warning each
        assert set(daemon.sessions()) >= {legit.session_id, second.session_id}
        assert victim.session_id not in daemon.sessions()  # a FIFO is no transcript: dropped
        counts = Counter(w["path"] for w in warnings(daemon) if w.get("kind") == "not-a-file")
        for path in [*at_start, *live, victim.path]:
            assert counts[str(path)] == 1, (path, counts)
        assert not [p for p in counts if Path(p).parent not in (project, victim_dir)]
    finally:
        daemon.kill()
        for sock in socks:
            sock.close()
    assert "Traceback" not in daemon.output()


def test_unreadable_files_and_directories_are_skipped_with_one_warning_each(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    if os.geteuid() == 0:
        # Root reads a mode-000 file anyway (CAP_DAC_OVERRIDE): run the daemon as root
        # without the two capabilities that bypass file modes.
        setpriv = shutil.which("setpriv")
        drop = [setpriv or "setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        if setpriv is None or subprocess.run([*drop, "true"], capture_output=True).returncode != 0:
            pytest.skip("running as root without a working util-linux setpriv (or CAP_SETPCAP): "
                        "root reads mode-000 files, so nothing can be unreadable here")
        daemon.prefix = drop
    legit = ClaudeTranscript(daemon.claude_projects)
    legit.write(legit.prompt("hello"))
    locked = ClaudeTranscript(daemon.claude_projects)
    locked.write(locked.prompt("you cannot read me"))
    os.chmod(locked.path, 0)
    locked_dir = daemon.claude_projects / "locked-project"
    hidden = ClaudeTranscript(locked_dir.parent, cwd="/x/locked-project")
    hidden.path = locked_dir / f"{hidden.session_id}.jsonl"
    hidden.write(hidden.prompt("in a directory you cannot list"))
    os.chmod(locked_dir, 0)
    daemon.start()
    try:
        # One more, made unreadable before it is moved into the watched tree.
        late = ClaudeTranscript(tmp_path / "staging")
        late.write(late.prompt("unreadable on arrival"))
        os.chmod(late.path, 0)
        arrived = legit.path.parent / late.path.name
        os.replace(late.path, arrived)
        second = ClaudeTranscript(daemon.claude_projects)
        second.write(second.prompt("readable"))
        wait_for(lambda: second.session_id in daemon.sessions())
        settle(daemon)
        sessions = daemon.sessions()
        assert legit.session_id in sessions
        assert not {locked.session_id, hidden.session_id, late.session_id} & set(sessions)
        counts = Counter((w["path"], w["kind"]) for w in warnings(daemon)
                         if w.get("kind") in ("unreadable", "unreadable-dir"))
        assert counts[(str(locked.path), "unreadable")] == 1, counts
        assert counts[(str(arrived), "unreadable")] == 1, counts
        assert counts[(str(locked_dir), "unreadable-dir")] == 1, counts
    finally:
        daemon.kill()
        os.chmod(locked_dir, 0o700)
    assert "Traceback" not in daemon.output()


# -- bad content ---------------------------------------------------------------------------


def check_shown(session: dict[str, Any]) -> None:
    """Every text field of a Session is bounded and free of what a terminal would obey."""
    limits = {"title": 200, "project": 200, "branch": 200, "reason": 300, "cwd": 4096, "id": 512}
    for name, limit in limits.items():
        text = session[name]
        assert isinstance(text, str) and len(text) <= limit, (name, len(text))
        assert all(ord(c) >= 0x20 and not 0xD800 <= ord(c) < 0xE000 and not 0x7F <= ord(c) < 0xA0
                   for c in text), (name, text[:80])
        text.encode("utf-8")
    tool = session["pending_tool"]
    if tool is not None:
        for name in ("name", "summary"):
            assert len(tool[name]) <= 300, (name, len(tool[name]))
            assert all(ord(c) >= 0x20 and not 0xD800 <= ord(c) < 0xE000 and not 0x7F <= ord(c) < 0xA0
                       for c in tool[name]), (name, tool[name][:80])


async def test_garbage_nesting_huge_strings_and_lone_surrogates_are_shown_safely(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    with running(daemon):
        async with SSEClient(f"{daemon.base_url}/events", token=daemon.token) as events:
            await events.next_of("snapshot")
            evil = "\ud800 lone \udfff \x1b]0;pwned\x07 \x1b[2J \u202e txt.exe \x00 NUL"
            t = ClaudeTranscript(daemon.claude_projects, branch="main\x1b[31m" + "b" * 100_000)
            t.cwd = "/home/u/" + "d\ud800\n" * 30_000  # after the file's path is made from it
            t.write(t.prompt(evil))
            appeared = await events.transition_to("working", timeout=30)
            check_shown(appeared.data["session"])
            title = appeared.data["session"]["title"]
            assert "lone" in title and "pwned" in title and "\x1b" not in title
            # Everything below is read by the tailer, line by line.
            t.write(t.prompt(evil + " " + "word " * 2_000_000))  # a 10 MB prompt
            t.write_raw(b"\x00\x00\xff\xfe not json \xc3\x28 {\n")
            t.write_raw(b'{"a":' * 200_000 + b"\n")  # deeply nested, never closed
            t.write_raw(b"[" * 200_000 + b"]" * 200_000 + b"\n")
            t.write_raw(b'{"type": "user", "n": ' + b"9" * 5000 + b"}\n")  # a 5000-digit integer
            t.write_raw(b"{" * 3_000_000 + b"\n")  # a line of failed starts
            t.write_raw(b'{"type":"x","s":"' + b"x" * (17 * 1024 * 1024) + b'"}\n')  # over MAX_LINE
            t.write(t.tool_use("Bash", {"command": evil + "rm -rf " + "/" * 5_000_000}))
            waiting = await events.transition_to("waiting_for_approval", timeout=30)
            check_shown(waiting.data["session"])
            assert waiting.data["session"]["pending_tool"]["name"] == "Bash"
            t.write(t.tool_use("x\ud800" * 50_000, {"q": evil}, tool_id="t2"))
            t.write(t.reply(evil * 1000))
            done = await events.transition_to("waiting_for_input", timeout=30)
            check_shown(done.data["session"])
            for event in events.drain():
                if event.event in ("session", "transition"):
                    check_shown(event.data.get("session", event.data))
        for session in (await asyncio.to_thread(daemon.sessions)).values():
            check_shown(session)
        assert healthy(daemon)
        kinds = Counter(w.get("kind") for w in warnings(daemon) if w.get("path") == str(t.path))
        assert kinds["garbage"] == 1 and kinds["huge-line"] == 1, kinds
    assert "Traceback" not in daemon.output()


def test_a_broken_whole_document_transcript_is_survived(tmp_path: Path) -> None:
    """Legacy Gemini `session-*.json` documents are parsed whole: bad ones must not hurt."""
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    chats = daemon.gemini_tmp / "proj" / "chats"
    chats.mkdir(parents=True)
    bad = [
        b'{"sessionId": "aaaaaaaa-1", "n": ' + b"1" * 5000 + b"}",
        b'{"sessionId":' * 100_000,
        b"\xff\xfe\x00garbage",
        b'{"sessionId": "cccccccc-3", "messages": '
        b'[{"id": "m1", "type": "user", "content": "\\ud800\\u001b[2J"}]}',
    ]
    for i, body in enumerate(bad):
        (chats / f"session-2025-01-01T00-00-{i:02d}{i:08x}.json").write_bytes(body)
    with running(daemon):
        for i, body in enumerate(bad):
            (chats / f"session-2025-01-01T00-00-{i:02d}{i:08x}.json").write_bytes(body + b" ")
        legit = ClaudeTranscript(daemon.claude_projects)
        legit.write(legit.prompt("still here"))
        wait_for(lambda: legit.session_id in daemon.sessions())
        # The valid document among them is read, its hostile text made safe.
        valid = wait_for(lambda: next((s for s in daemon.sessions().values()
                                       if s["agent"] == "gemini"), None))
        assert valid["status"] == "working" and "\x1b" not in valid["title"]
        assert [s["agent"] for s in daemon.sessions().values()].count("gemini") == 1
        settle(daemon)
        for session in daemon.sessions().values():
            check_shown(session)
    assert "Traceback" not in daemon.output()


def test_a_transcript_with_an_undecodable_name_is_skipped(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    legit = ClaudeTranscript(daemon.claude_projects)
    legit.write(legit.prompt("hello"))
    odd = os.fsencode(legit.path.parent) + b"/\xff\xfe\x1b.jsonl"
    with open(odd, "wb") as fh:
        fh.write((json.dumps(legit.prompt("odd")) + "\n").encode())
    with running(daemon):
        with open(odd, "ab") as fh:
            fh.write((json.dumps(legit.reply("more")) + "\n").encode())
        settle(daemon)
        assert set(daemon.sessions()) == {legit.session_id}
    assert "Traceback" not in daemon.output()


# -- the pieces, directly -----------------------------------------------------------------------


def test_decode_line_survives_pathological_lines() -> None:
    # Each of these once raised or took minutes (one failed parse per `{`, each O(line)).
    assert decode_line(b'{"n": ' + b"1" * 5000 + b'}{"ok": 1}').records == [{"ok": 1}]
    assert decode_line(b"{" * 4_000_000).records == []
    assert decode_line(b'{"' * 2_000_000).records == []
    assert decode_line(b'{"a":' * 1_000_000 + b'{"b": 2}').had_garbage
    assert decode_line(b"0 " * 4_000_000).records == []
    assert decode_line(b" " * 8_000_000 + b'{"c": 3}').records == [{"c": 3}]
    code = b'{"torn": "function f() { return {a: 1} } {{{ ' + b"x { y " * 100_000
    assert decode_line(code + b'{"type": "user"}').records[-1] == {"type": "user"}


def test_shown_text_is_bounded_and_safe() -> None:
    evil = "\ud800a\x1b]0;t\x07b\u202ec\x00d\udfff" + " word" * 1_000_000
    title = clip(evil, MAX_TITLE)
    assert len(title) == MAX_TITLE and title.startswith("\ufffda]0;tbcd\ufffd word")
    title.encode("utf-8")
    assert clip(title, MAX_TITLE) == title  # idempotent: stored and reloaded, unchanged
    assert bound("/a\nb\ud800" + "c" * 9000, 4096) == "/a\ufffdb\ufffd" + "c" * 4091
    now = datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)  # millisecond precision on the wire
    session = Session(id="s\ud800" * 1000, agent="claude", status="working", status_since=now,
                      last_activity=now, parent_id="p" * 10_000, cwd="/x" * 10_000, title=evil,
                      project=evil, branch=evil, reason=evil, pending_tool=PendingTool(evil, evil))
    assert Session.from_json(session.to_json()) == session
    assert len(json.dumps(session.to_json())) < 12_000
    assert session.pending_tool is not None and len(session.pending_tool.name) <= 300
    frame = encode_frame("session", {"title": "\ud800 lone", "cwd": "\udcff"}, 7)
    assert frame.decode("utf-8").startswith("id: 7\nevent: session\ndata: {")


# -- a transcript that grows by a gigabyte ------------------------------------------------------


def status_of(daemon: DaemonProcess, session_id: str) -> str | None:
    status, body = daemon.get("/api/sessions")
    if status != 200:
        return None
    return next((s["status"] for s in body["sessions"] if s["id"] == session_id), None)


def progress_block(t: ClaudeTranscript, tool_id: str, lines: int, text_bytes: int) -> bytes:
    """`lines` bash_progress lines, each with its own uuid (the classifier's duplicate
    window is 2048 uuids, so a block longer than that is never skipped as a resume)."""
    out = []
    for _ in range(lines):
        out.append(json.dumps({
            "type": "progress", "uuid": str(uuid.uuid4()), "parentUuid": None,
            "sessionId": t.session_id, "cwd": t.cwd, "timestamp": now_iso(),
            "toolUseID": f"bash-progress-{tool_id}", "parentToolUseID": tool_id,
            "data": {"type": "bash_progress", "output": "x" * text_bytes, "elapsedTimeSeconds": 1},
        }, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


@pytest.mark.timeout(600)
def test_a_huge_transcript_written_while_the_daemon_runs_is_read_whole(tmp_path: Path) -> None:
    """128 MB of long progress lines appended while the daemon runs: every line is read,
    the session ends in the right state, the daemon stays healthy. (The 1 GB version and
    its memory figure are `python -m bench --only shutdown`: a figure, not a CI check.)"""
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    assert daemon.proc is not None
    t = ClaudeTranscript(daemon.claude_projects)
    try:
        t.write(t.prompt("build the thing"))
        t.write(t.tool_use("Bash", {"command": "make -j8"}, tool_id="toolu_big"))
        t.write(t.tool_result("toolu_big", "ok"))
        wait_for(lambda: status_of(daemon, t.session_id) == "working")
        t.write(t.tool_use("Bash", {"command": "cat huge.log"}, tool_id="toolu_big2"))
        block = progress_block(t, "toolu_big2", 2100, 1900)  # ~4.3 MB of ~2 KB lines
        total, target = 0, 128 * 1024 ** 2
        fd = os.open(t.path, os.O_WRONLY | os.O_APPEND)
        try:
            while total < target:
                view = memoryview(block)
                while view:  # 1 MB writes: what a busy agent's appends add up to
                    written = os.write(fd, view[: 1024 * 1024])
                    view = view[written:]
                total += len(block)
        finally:
            os.close(fd)
        lines = total // len(block) * 2100
        t.write(t.tool_result("toolu_big2", "done"))
        t.write(t.reply("All done."))
        # The daemon may be too busy reading to answer for a while: polls that time out
        # count as "not yet".
        wait_for(lambda: status_of(daemon, t.session_id) == "waiting_for_input", timeout=480)
        _, metrics = daemon.get("/metrics")
        read = next(int(float(ln.split()[1])) for ln in metrics.splitlines()
                    if ln.startswith("sessiond_lines_read_total"))
        assert read >= lines
        assert healthy(daemon)
    finally:
        daemon.kill()
        t.path.unlink(missing_ok=True)


def test_swapping_a_transcript_for_a_symlink_never_reads_through_it(tmp_path: Path) -> None:
    """The race: discovery lstat()s the path, then it is swapped for a symlink to a file
    outside the roots before it is opened. Opens use O_NOFOLLOW and check the descriptor,
    so the outside file's title never shows (measured before the fix: 43 times in 15 s)."""
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    daemon.claude_projects.mkdir(parents=True)
    with running(daemon):
        t = ClaudeTranscript(daemon.claude_projects)
        t.write(t.prompt("my own task"))
        wait_for(lambda: t.session_id in daemon.sessions())
        outside = ClaudeTranscript(tmp_path / "elsewhere", session_id=t.session_id)
        outside.write(outside.prompt("SECRET FROM OUTSIDE THE ROOTS"))
        real = tmp_path / "real-copy.jsonl"
        stop = threading.Event()
        swaps = 0

        def swap() -> None:
            nonlocal swaps
            link = t.path.with_name("swap.tmp")
            while not stop.is_set():
                link.unlink(missing_ok=True)
                link.symlink_to(outside.path)
                os.replace(link, t.path)  # now a symlink to the outside file
                os.utime(outside.path)
                shutil.copyfile(real, link)
                os.replace(link, t.path)  # a regular file again
                swaps += 1

        shutil.copyfile(t.path, real)
        swapper = threading.Thread(target=swap, daemon=True)
        swapper.start()
        leaked: list[str] = []
        deadline = time.monotonic() + 6
        try:
            while time.monotonic() < deadline:
                status, body = daemon.get("/api/sessions")
                assert status == 200
                leaked += [s["title"] for s in body["sessions"] if "SECRET" in s["title"]]
                time.sleep(0.01)
        finally:
            stop.set()
            swapper.join(10)
        assert swaps > 1000, swaps  # the race was really run
        assert leaked == []
        assert daemon.get("/health")[0] == 200


def test_a_transcript_rewritten_in_place_shows_its_new_content(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    daemon.claude_projects.mkdir(parents=True)
    with running(daemon):
        t = ClaudeTranscript(daemon.claude_projects)
        t.write(t.prompt("the old task " + "x" * 200), t.reply("finished the old task"))
        wait_for(lambda: daemon.sessions().get(t.session_id, {}).get("status") == "waiting_for_input")
        inode = t.path.stat().st_ino
        new = ClaudeTranscript(daemon.claude_projects, session_id=t.session_id)
        lines = [new.prompt("the new task"), new.reply("half way"), new.prompt("go on with the new task")]
        with t.path.open("wb") as fh:  # truncate and write again: same inode, larger
            fh.write(b"".join(json.dumps(r).encode() + b"\n" for r in lines))
        assert t.path.stat().st_ino == inode
        wait_for(lambda: daemon.sessions()[t.session_id]["title"] == "the new task")
        assert daemon.sessions()[t.session_id]["status"] == "working"


def test_inputs_that_would_cost_unbounded_memory_are_skipped_with_one_warning_each(tmp_path: Path) -> None:
    """Measured before: a 63 MB Gemini document of empty lists took RSS to 1.72 GB and
    stalled /health 16.7 s; one 15 MB line of empty lists cost 371 MB. Now such input is
    recognised cheaply (its size, its density of brackets) and skipped; the daemon goes on.
    (The memory and loop-lag figures are in bench/, not asserted here.)"""
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    daemon.claude_projects.mkdir(parents=True)
    with running(daemon):
        t = ClaudeTranscript(daemon.claude_projects)
        t.write(t.prompt("before the bomb"))
        wait_for(lambda: t.session_id in daemon.sessions())
        t.write_raw(b"[]" * 7_500_000 + b"\n")  # one 15 MB line of empty lists
        t.write(t.reply("after the bomb"))
        wait_for(lambda: daemon.sessions()[t.session_id]["status"] == "waiting_for_input")
        chats = Path(daemon.env["GEMINI_CLI_HOME"]) / ".gemini" / "tmp" / ("a" * 64) / "chats"
        chats.mkdir(parents=True)
        dense = chats / "session-2026-01-01T00-00-abcdef12.json"
        dense.write_bytes(b'{"sessionId":"abcdef12","messages":[' + b"[]," * 4_000_000 + b"[]]}")
        huge = chats / "session-2026-01-01T00-01-bbbbbbbb.json"
        huge.write_bytes(b'{"sessionId":"bbbbbbbb","messages":[],"pad":"' + b"x" * (17 * 1024 * 1024) + b'"}')
        marker = ClaudeTranscript(daemon.claude_projects)
        marker.write(marker.prompt("a marker after the documents"))
        wait_for(lambda: marker.session_id in daemon.sessions())
        settle(daemon)
        found = warnings(daemon)
        assert [w for w in found if w.get("kind") == "garbage" and w["path"] == str(t.path)]
        assert len([w for w in found if w["path"] == str(dense)]) == 1
        assert "too many nested values" in next(w["event"] for w in found if w["path"] == str(dense))
        assert len([w for w in found if w["path"] == str(huge)]) == 1
        assert daemon.get("/health")[0] == 200


def test_a_million_tiny_lines_are_all_read_while_the_daemon_keeps_answering(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d", settings=SETTINGS)
    daemon.claude_projects.mkdir(parents=True)
    with running(daemon):
        t = ClaudeTranscript(daemon.claude_projects)
        t.write(t.prompt("a burst follows"))
        wait_for(lambda: t.session_id in daemon.sessions())
        t.write_raw(b'{"type":"progress"}\n' * 1_000_000)
        t.write(t.reply("the burst is over"))
        answered = 0
        while daemon.sessions()[t.session_id]["status"] != "waiting_for_input":
            answered += daemon.get("/health")[0] == 200  # answered between slices of the burst
        _, text = daemon.get("/metrics")
        found = re.search(r"^sessiond_lines_read_total (\d+)$", text, re.M)
        assert found and int(found.group(1)) >= 1_000_002 and answered >= 1


def test_the_symlink_check_fails_closed_when_a_part_cannot_be_checked(tmp_path: Path) -> None:
    """Found in an audit: an lstat error on the way to a transcript counted as "no symlink
    here". A part whose lstat fails (a name too long to stat) now keeps the path out."""
    from sessiond.engine.files import Root, inside
    from sessiond.sources.claude.transcript import ClaudeSource

    root = Root(ClaudeSource(), tmp_path / "projects")
    (root.path / "-home-u-app").mkdir(parents=True)
    (root.path / "-home-u-app" / "s.jsonl").write_text("")
    assert inside(root.path / "-home-u-app" / "s.jsonl", root)
    assert not inside(root.path / ("x" * 300) / "s.jsonl", root)  # ENAMETOOLONG: cannot tell
    assert not inside(root.path / "-home-u-app" / "gone.jsonl", root)  # nothing to read
    (root.path / "link").symlink_to(tmp_path)
    assert not inside(root.path / "link" / "s.jsonl", root)


def test_a_transcript_that_cannot_be_stated_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Found in an audit: discovery skipped a stat error silently. Now it says so, once."""

    from sessiond.engine.files import Root, admissible
    from sessiond.logs import WarnOnce
    from sessiond.sources.claude.transcript import ClaudeSource

    said: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def warning(self, event: str, **fields: Any) -> None:
            said.append((event, fields))

    root = Root(ClaudeSource(), tmp_path / "projects")
    (root.path / "-home-u-app").mkdir(parents=True)
    too_long = root.path / "-home-u-app" / ("s" * 300 + ".jsonl")  # lstat: ENAMETOOLONG
    assert admissible(too_long, root, WarnOnce(Log())) is None
    assert [event for event, _ in said] == ["cannot stat a transcript; skipping it"]
    assert admissible(root.path / "-home-u-app" / "gone.jsonl", root, WarnOnce(Log())) is None
    assert len(said) == 1  # a file already gone is not worth a warning
