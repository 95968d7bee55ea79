"""Only the owner gets in (contract: "Access"): the token, or the cookie the login link sets.

Real daemon, real TCP; another local user is a real other uid (`setpriv --reuid 65534`).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.transcripts import ClaudeTranscript


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[DaemonProcess]:
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill()


def fetch(daemon: DaemonProcess, path: str, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{daemon.port}", **(headers or {})})
        response = conn.getresponse()
        # An event stream never ends: its head is all a test needs.
        body = b"" if response.getheader("Content-Type", "").startswith("text/event-stream") \
            else response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def as_nobody(daemon: DaemonProcess, path: str) -> str:
    """The status line another local user gets (bash's /dev/tcp: no Python needed for uid 65534)."""
    script = (f"exec 3<>/dev/tcp/127.0.0.1/{daemon.port}; "
              f"printf 'GET {path} HTTP/1.0\\r\\nHost: 127.0.0.1:{daemon.port}\\r\\n\\r\\n' >&3; "
              "head -n 1 <&3")
    done = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                           "bash", "-c", script], capture_output=True, text=True, timeout=20)
    return done.stdout.strip()


def test_another_local_user_gets_401_everywhere_but_health(owner: DaemonProcess) -> None:
    t = ClaudeTranscript(owner.claude_projects)
    t.write(t.prompt("a prompt another user must not read"))
    for path in ("/", "/api/sessions", f"/api/sessions/{t.session_id}", "/events", "/metrics",
                 "/api/controls", "/api/hooks", "/app.js"):
        assert as_nobody(owner, path).split()[1:2] == ["401"], path
    assert as_nobody(owner, "/health").split()[1:2] == ["200"]
    # Nor can that user read the token: the state dir is the owner's alone.
    denied = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                             "cat", str(owner.state_dir / "token")], capture_output=True, timeout=20)
    assert denied.returncode != 0 and denied.stdout == b""


def test_without_credentials_one_sentence_names_sessiond_open(owner: DaemonProcess) -> None:
    status, headers, body = fetch(owner, "/api/sessions")
    assert status == 401
    assert "sessiond open" in json.loads(body)["error"]
    status, headers, body = fetch(owner, "/", {"Accept": "text/html"})
    assert status == 401 and headers["content-type"].startswith("text/html")
    assert b"sessiond open" in body
    # /health answers anyone on this machine, and holds nothing from transcripts.
    status, _, body = fetch(owner, "/health")
    assert status == 200 and json.loads(body)["status"] in ("ok", "degraded")


def test_the_login_link_sets_a_strict_httponly_cookie_and_drops_the_token(owner: DaemonProcess) -> None:
    token = owner.token
    status, headers, _ = fetch(owner, f"/login?token={quote(token, safe='')}")
    assert status == 303 and headers["location"] == "/"
    assert headers["cache-control"] == "no-store"
    cookie = headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes and "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert value and token not in cookie  # derived from the token, never the token
    with_cookie = {"Cookie": f"sessiond={value}"}
    status, _, page = fetch(owner, "/", with_cookie)
    assert status == 200 and token.encode() not in page
    assert fetch(owner, "/api/sessions", with_cookie)[0] == 200
    assert fetch(owner, "/events", {**with_cookie, "Accept": "text/event-stream"})[0] == 200
    # A wrong link, or a forged cookie, gets nothing.
    assert fetch(owner, "/login?token=wrong")[0] == 401
    assert fetch(owner, "/login")[0] == 401
    assert fetch(owner, "/api/sessions", {"Cookie": "sessiond=" + "0" * 64})[0] == 401
    assert fetch(owner, "/api/sessions", {"Cookie": f"sessiond={token}"})[0] == 401


def test_the_cookie_outlives_a_restart_and_dies_when_the_token_is_rotated(owner: DaemonProcess) -> None:
    # Claude's hooks carry the token: rotating must rewrite them.
    installed = cli(owner, "hooks", "install", "--agent", "claude")
    assert installed.returncode == 0, installed.stderr
    old = owner.token
    cookie = {"Cookie": f"sessiond={owner.login_cookie()}"}
    assert owner.stop() == 0
    owner.start()
    assert fetch(owner, "/api/sessions", cookie)[0] == 200  # no new login after a restart

    rotated = cli(owner, "token", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "sessiond open" in rotated.stdout and "claude" in rotated.stdout
    new = owner.token
    assert new != old
    assert fetch(owner, "/api/sessions", cookie)[0] == 401  # the old cookie is dead
    assert fetch(owner, "/api/sessions", {"Authorization": f"Bearer {old}"})[0] == 401
    assert fetch(owner, "/api/sessions", {"Authorization": f"Bearer {new}"})[0] == 200
    assert fetch(owner, f"/login?token={quote(old, safe='')}")[0] == 401
    settings = (Path(owner.env["CLAUDE_CONFIG_DIR"]) / "settings.json").read_text()
    assert f"Bearer {new}" in settings and old not in settings
    # The CLI reads the token file as hooks do: `status` still works for the owner.
    assert cli(owner, "status").returncode == 0


def cli(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sessiond", *args], env=daemon.env,
                          capture_output=True, text=True, timeout=60)
