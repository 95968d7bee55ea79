"""Record real OpenCode sessions for tests/data/opencode/: `python scripts/capture_opencode.py`
(and, with `SESSIOND_TEST_OPENCODE` naming an opencode-ai 1.1.65 binary, `--legacy`).

Runs the real OpenCode (opencode-ai 1.18.33, `opencode serve`, as scripts/test installs it)
with the scripted model of tests/standin/fake_model.py, drives one session per scenario
through OpenCode's HTTP API the way its TUI does, and dumps what OpenCode stored (the
session, message, part and event tables) as SQL. The event table is OpenCode's own ordered
history of every row it wrote, with times: replaying it shows each moment of the session.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.opencode_real import VERSION, RealOpenCode  # noqa: E402
from tests.waiting import wait_for  # noqa: E402

OUT = REPO / "tests" / "data" / "opencode"
TABLES = ("session", "message", "part", "event")


def approve_after_a_while(oc: RealOpenCode, sid: str) -> None:
    oc.prompt(sid, "run the release script")
    asked = wait_for(oc.permissions, timeout=60)[0]
    time.sleep(8)  # the user reads the command, then allows it
    oc.reply(asked["id"], "once")
    wait_for(lambda: oc.api("GET", "/session/status").get(sid) is None, timeout=60)


def reject(oc: RealOpenCode, sid: str) -> None:
    oc.prompt(sid, "clean the build folder")
    asked = wait_for(oc.permissions, timeout=60)[0]
    time.sleep(6)
    oc.reply(asked["id"], "reject")
    wait_for(lambda: oc.api("GET", "/session/status").get(sid) is None, timeout=60)


def long_allowed_command(oc: RealOpenCode, sid: str) -> None:
    oc.prompt(sid, "run the slow test suite")
    time.sleep(2)
    wait_for(lambda: oc.api("GET", "/session/status").get(sid) is None, timeout=60)


def interrupted(oc: RealOpenCode, sid: str) -> None:
    oc.prompt(sid, "run the slow test suite")
    time.sleep(6)
    oc.abort(sid)
    wait_for(lambda: oc.api("GET", "/session/status").get(sid) is None, timeout=60)


SCENARIOS: dict[str, tuple[str, str, Callable[[RealOpenCode, str], None]]] = {
    # name: (command the model runs, bash permission, what the user does)
    "approved": ("./release.sh --dry-run", "ask", approve_after_a_while),
    "rejected": ("rm -rf build", "ask", reject),
    "long-command": ("sleep 9; echo 42 passed", "allow", long_allowed_command),
    "interrupted": ("sleep 30; echo never", "allow", interrupted),
}


def dump(db: Path, target: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lines = [
        f"-- Written by the real OpenCode {VERSION} (scripts/capture_opencode.py);"
        f" tables {', '.join(TABLES)}."
    ]
    for line in conn.iterdump():
        if any(line.startswith(p) for t in TABLES for p in (f"CREATE TABLE `{t}`", f'INSERT INTO "{t}"')):
            lines.append(line)
    conn.close()
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def copy_tree(oc: RealOpenCode, target: Path) -> None:
    """OpenCode's JSON files (before 1.2), as they are now: sessions, messages, parts."""
    shutil.rmtree(target, ignore_errors=True)
    for kind in ("session", "message", "part"):
        source = oc.data_dir / "storage" / kind
        if source.is_dir():
            shutil.copytree(source, target / "storage" / kind)


def main_legacy() -> None:
    """OpenCode 1.1.65 (`SESSIOND_TEST_OPENCODE` names its binary): the JSON files of a turn
    while OpenCode asks to run a command, and after the user allowed it."""
    cache = Path(tempfile.mkdtemp(prefix="opencode-cache-"))
    out = OUT / "1.1.65"
    with tempfile.TemporaryDirectory() as tmp:
        oc = RealOpenCode(Path(tmp), "./release.sh --dry-run", cache=cache).start()
        try:
            sid = oc.new_session()
            oc.prompt(sid, "run the release script")
            asked = wait_for(oc.permissions, timeout=60)[0]
            time.sleep(1)
            copy_tree(oc, out / "asking")
            oc.reply(asked["id"], "once")
            wait_for(lambda: oc.api("GET", "/session/status").get(sid) is None, timeout=60)
            time.sleep(1)
            copy_tree(oc, out / "approved")
        finally:
            oc.stop()
    print("1.1.65", sid)


def main() -> None:
    if "--legacy" in sys.argv:
        main_legacy()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="opencode-cache-"))
    for name, (command, bash, act) in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as tmp:
            oc = RealOpenCode(Path(tmp), command, cache=cache, bash=bash).start()
            try:
                sid = oc.new_session()
                act(oc, sid)
                time.sleep(1)
            finally:
                oc.stop()
            dump(oc.data_dir / "opencode.db", OUT / f"{name}.sql")
            print(name, sid)


if __name__ == "__main__":
    main()
