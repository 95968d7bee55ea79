"""Issue 8, network and files: the daemon answers only this user on this machine.

A real daemon over real TCP: Host and Origin checks on every route, no CORS, the token,
request and header size caps, the SSE client limit (300 clients against the default 256),
`--host` / `--allow-remote`, and the modes of everything in the state dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import os
import resource
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sessiond.logs import _PrivateRotatingFileHandler
from sessiond.statedir import DaemonError, ensure_state_dir
from sessiond.store.db import Store
from sessiond.web.access import Access

from tests.daemon_proc import DaemonProcess, make_daemon
from tests.transcripts import ClaudeTranscript

EVIL = "evil.example"

# Every route the daemon serves (and some it does not), with a method to call it by.
ROUTES: list[tuple[str, str]] = [
    ("GET", "/health"),
    ("GET", "/api/sessions"),
    ("GET", "/api/sessions/no-such-session"),
    ("GET", "/events"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/style.css"),
    ("GET", "/api/controls"),
    ("GET", "/api/hooks"),
    ("POST", "/hooks/claude"),
    ("POST", "/api/mute"),
    ("POST", "/api/unmute"),
    ("GET", "/no/such/route"),
    ("HEAD", "/health"),
    ("OPTIONS", "/"),
    ("OPTIONS", "/events"),
    ("OPTIONS", "/hooks/claude"),
    ("PUT", "/api/sessions"),
    ("DELETE", "/api/sessions/x"),
]


def call(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    host: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request; the body is not read for an event stream (it never ends)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {"Host": host if host is not None else f"127.0.0.1:{port}", **(headers or {})}
    try:
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        got = {k.lower(): v for k, v in resp.getheaders()}
        data = b"" if got.get("content-type", "").startswith("text/event-stream") else resp.read()
        return resp.status, got, data
    finally:
        conn.close()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, return what comes back before the daemon closes (or 3 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.settimeout(3)
        out = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                out += chunk
    return out


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    proc = make_daemon(tmp_path_factory.mktemp("sec") / "d")
    proc.claude_projects.mkdir(parents=True)
    proc.start()
    yield proc
    proc.kill()


# -- where it listens ------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (Linux /proc/net)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, words))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_it_listens_on_loopback_only(daemon: DaemonProcess) -> None:
    addresses = listening_addresses(daemon.port)
    assert "127.0.0.1" in addresses
    assert addresses <= {"127.0.0.1", "::1"}, addresses
    if "::1" in addresses:  # the machine has IPv6 loopback: answered there too
        conn = http.client.HTTPConnection("::1", daemon.port, timeout=10)
        try:
            conn.request("GET", "/health", headers={"Host": f"[::1]:{daemon.port}"})
            assert conn.getresponse().status == 200
        finally:
            conn.close()


# -- Host, Origin, CORS --------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_foreign_host_gets_403_on_every_route(daemon: DaemonProcess, method: str, path: str) -> None:
    token = {"Authorization": f"Bearer {daemon.token}"}
    for host in (EVIL, f"{EVIL}:{daemon.port}", "127.0.0.1", f"127.0.0.1:{daemon.port + 1}",
                 f"localhost.{EVIL}:{daemon.port}", f"LOCALHOST:{daemon.port}x", ""):
        # Even with the token: a DNS-rebound page never has it, but the rule is absolute.
        status, headers, _ = call(daemon.port, method, path, headers=token, host=host,
                                  body=b"{}" if method == "POST" else None)
        assert status == 403, (host, method, path)
        assert not [h for h in headers if h.startswith("access-control-")]


def test_a_request_without_host_gets_403(daemon: DaemonProcess) -> None:
    answer = raw_exchange(daemon.port, b"GET /api/sessions HTTP/1.0\r\n\r\n")
    assert answer.split(b" ", 2)[1] == b"403", answer[:100]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_the_three_loopback_names_are_answered(daemon: DaemonProcess, host: str) -> None:
    status, _, body = call(daemon.port, "GET", "/health", host=host.format(port=daemon.port))
    assert status == 200
    assert json.loads(body)["status"] in ("ok", "degraded")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_cors_headers_anywhere(daemon: DaemonProcess, method: str, path: str) -> None:
    for origin in (f"https://{EVIL}", f"http://127.0.0.1:{daemon.port}", "null"):
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
            "Authorization": f"Bearer {daemon.token}",
        }
        status, got, _ = call(daemon.port, method, path, headers=headers,
                              body=b"{}" if method == "POST" else None)
        assert status != 0
        assert not [h for h in got if h.startswith("access-control-")], (method, path, got)


@pytest.mark.parametrize("path", ["/hooks/claude", "/api/mute", "/api/unmute", "/no/such/route"])
@pytest.mark.parametrize("origin", [f"https://{EVIL}", f"http://{EVIL}", "null",
                                    "http://127.0.0.1", "http://127.0.0.1:1", "file://"])
def test_a_cross_origin_write_gets_403(daemon: DaemonProcess, path: str, origin: str) -> None:
    headers = {"Origin": origin, "Authorization": f"Bearer {daemon.token}",
               "Content-Type": "application/json"}
    status, _, _ = call(daemon.port, "POST", path, headers=headers, body=b'{"project": "p"}')
    assert status == 403


def test_same_origin_and_originless_writes_pass_the_origin_check(daemon: DaemonProcess) -> None:
    token = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}
    for origin in (None, f"http://127.0.0.1:{daemon.port}", f"http://localhost:{daemon.port}",
                   f"http://[::1]:{daemon.port}"):
        headers = dict(token) if origin is None else {**token, "Origin": origin}
        status, _, body = call(daemon.port, "POST", "/hooks/claude", headers=headers,
                               body=b'{"hook_event_name": "Notification"}')
        assert (status, body) == (204, b"")
    # A cross-origin read is answered (the browser keeps it from the page: no CORS).
    status, _, _ = call(daemon.port, "GET", "/health", headers={"Origin": f"https://{EVIL}"})
    assert status == 200


# -- the token -----------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, "", "Bearer", "Bearer ", "Bearer wrong", "Basic {token}",
                                  "Bearer {token}x", "Bearer  x{token}", "{token}"])
def test_hooks_without_the_token_get_401(daemon: DaemonProcess, auth: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth.format(token=daemon.token)
    for path in ("/hooks/claude", "/api/mute"):
        status, _, _ = call(daemon.port, "POST", path, headers=headers, body=b'{"project": "p"}')
        assert status == 401, (auth, path)


def test_only_the_exact_token_or_its_cookie_gets_in(tmp_path: Path) -> None:
    """What the access check accepts, by behaviour. (Constant time is not asserted: that
    would be a wall-clock test; every comparison goes through hmac.compare_digest in
    `Access.token_matches` and `Access.allows`.)"""
    token_file = tmp_path / "token"
    token_file.write_text("A" * 43 + "\n")
    access = Access("A" * 43, token_file)
    assert access.token_matches("A" * 43)
    for near in ("A" * 42, "A" * 44, "a" * 43, "", "A" * 42 + "\udcff", "Ä" * 43):
        assert not access.token_matches(near), near
    cookie = access.cookie_value()
    assert cookie != "A" * 43 and len(cookie) == 64  # derived, never the token itself
    # Rotating the token file changes both at once: the old cookie dies.
    token_file.write_text("B" * 43 + "\n")
    assert access.token_matches("B" * 43) and not access.token_matches("A" * 43)
    assert access.cookie_value() != cookie


# -- sizes ---------------------------------------------------------------------------


def test_hook_bodies_are_capped_at_1_mb(daemon: DaemonProcess) -> None:
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}
    pad = 1024 * 1024 - len(b'{"hook_event_name":"Notification","pad":""}')
    fits = b'{"hook_event_name":"Notification","pad":"' + b"x" * pad + b'"}'
    assert len(fits) == 1024 * 1024
    assert call(daemon.port, "POST", "/hooks/claude", headers=headers, body=fits)[0] == 204
    too_big = fits + b" "
    assert call(daemon.port, "POST", "/hooks/claude", headers=headers, body=too_big)[0] == 413
    # Announced as huge but never sent: refused on the header alone.
    answer = raw_exchange(
        daemon.port,
        f"POST /hooks/claude HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
        f"Authorization: Bearer {daemon.token}\r\nContent-Length: 10000000000\r\n\r\n".encode(),
    )
    assert answer.split(b" ", 2)[1] == b"413", answer[:100]


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1,2]", b"\xff\xfe", b'{"a": ' + b"1" * 5000 + b"}",
    b"[" * 100_000, b'{"a":' * 100_000, b'"\\ud800"',
])  # fmt: skip
def test_bad_hook_bodies_get_400_not_500(daemon: DaemonProcess, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}
    status, _, _ = call(daemon.port, "POST", "/hooks/claude", headers=headers, body=body)
    assert status == 400


def test_header_sizes_are_capped(daemon: DaemonProcess) -> None:
    port = daemon.port
    host = f"Host: 127.0.0.1:{port}\r\n"
    huge_field = raw_exchange(port, f"GET /health HTTP/1.1\r\n{host}X-Big: {'a' * 9000}\r\n\r\n".encode())
    many = "".join(f"X-H{i}: v\r\n" for i in range(200))
    many_fields = raw_exchange(port, f"GET /health HTTP/1.1\r\n{host}{many}\r\n".encode())
    long_line = raw_exchange(port, f"GET /{'a' * 9000} HTTP/1.1\r\n{host}\r\n".encode())
    for answer in (huge_field, many_fields, long_line):
        assert answer.split(b" ", 2)[1] in (b"400", b"413", b"414", b"431"), answer[:120]
    # Within the limits, all is well.
    ok = raw_exchange(port, f"GET /health HTTP/1.1\r\n{host}X-Fine: {'a' * 4000}\r\nConnection: close\r\n\r\n"
                      .encode())
    assert ok.startswith(b"HTTP/1.1 200")
    assert daemon.get("/health")[0] == 200


# -- the SSE client limit --------------------------------------------------------------


@contextlib.contextmanager
def soft_fd_limit(limit: int) -> Iterator[None]:
    """Children started inside inherit a low soft limit of open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def open_stream(
    port: int, token: str, *, cookie: str | None = None
) -> tuple[int, dict[str, str], asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    credential = f"Cookie: sessiond={cookie}" if cookie else f"Authorization: Bearer {token}"
    writer.write(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{credential}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    return status, headers, reader, writer


async def test_300_sse_clients_the_first_256_stream_the_rest_get_503(tmp_path: Path) -> None:
    """256 streams at most; the last 16 are kept for the panel (its login cookie), so a
    script holding streams cannot lock the owner's browser out."""
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    # Started with a soft limit of 256 open files: the daemon must raise its own.
    with soft_fd_limit(256):
        daemon.start(wait=False)
    try:
        await asyncio.to_thread(daemon.wait_ready)
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        refused: list[dict[str, str]] = []
        statuses: list[int] = []
        for _ in range(300):
            status, headers, reader, writer = await open_stream(daemon.port, daemon.token)
            statuses.append(status)
            if status == 200:
                streams.append((reader, writer))
            else:
                refused.append(headers)
                writer.close()
        assert statuses == [200] * 240 + [503] * 60  # tokens: all but the panel's 16
        assert all(h.get("retry-after", "").isdigit() for h in refused)
        cookie = daemon.login_cookie()
        for n in range(17):
            status, _, reader, writer = await open_stream(daemon.port, daemon.token, cookie=cookie)
            assert status == (200 if n < 16 else 503), n
            if status == 200:
                streams.append((reader, writer))
            else:
                writer.close()
        # The 256 really stream: each got its snapshot.
        for reader, _ in streams:
            await asyncio.wait_for(reader.readuntil(b"event: snapshot\n"), 15)
        health = await asyncio.to_thread(daemon.get, "/health")
        assert (health[0], health[1]["clients"]) == (200, 256)
        # A place freed is a place taken.
        reader, writer = streams.pop()
        writer.close()
        for _ in range(200):
            if (await asyncio.to_thread(daemon.get, "/health"))[1]["clients"] == 255:
                break
            await asyncio.sleep(0.05)
        status, _, _, writer = await open_stream(daemon.port, daemon.token, cookie=cookie)
        streams.append((reader, writer))
        assert status == 200  # a panel place freed is a panel place taken
        print(f"\n300 SSE clients: {statuses.count(200)} (+16 panel) streamed, {statuses.count(503)} got 503 "
              "with Retry-After; the daemon started under a soft limit of 256 open files")
        for _, writer in streams:
            writer.close()
    finally:
        daemon.kill()


# -- --host and --allow-remote ------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_a_non_loopback_host_without_allow_remote_exits_1_with_one_sentence(
    tmp_path: Path, host: str
) -> None:
    daemon = make_daemon(tmp_path / "d")
    done = subprocess.run(
        [sys.executable, "-m", "sessiond", "run", "--host", host, "--port", "0", "--no-notify"],
        env=daemon.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].endswith(".") and host in lines[0] and "--allow-remote" in lines[0]
    assert "Traceback" not in done.stderr


def test_allow_remote_requires_the_token_on_every_request(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d", args=["--no-notify", "--host", "0.0.0.0", "--allow-remote"])
    daemon.claude_projects.mkdir(parents=True)
    daemon.start(wait=False)
    try:
        runtime = daemon.state_dir / "runtime.json"
        for _ in range(600):
            if runtime.exists():
                break
            assert daemon.proc is not None and daemon.proc.poll() is None, daemon.output()
            time.sleep(0.05)
        daemon.port = json.loads(runtime.read_text())["port"]
        token = {"Authorization": f"Bearer {daemon.token}"}
        for method, path in ROUTES:
            body = b"{}" if method == "POST" else None
            for host in (f"127.0.0.1:{daemon.port}", f"{EVIL}:{daemon.port}", "192.0.2.7"):
                for auth in ({}, {"Authorization": "Bearer wrong"}):
                    status, got, _ = call(daemon.port, method, path, headers=auth, host=host, body=body)
                    assert status == 401, (method, path, host, auth)
                    assert not [h for h in got if h.startswith("access-control-")]
        # With the token, any Host (the machine's own name) is answered...
        for host in (f"127.0.0.1:{daemon.port}", f"myhost.lan:{daemon.port}"):
            assert call(daemon.port, "GET", "/health", headers=token, host=host)[0] == 200
            assert call(daemon.port, "GET", "/events", headers=token, host=host)[0] == 200
        # ...but a browser's cross-origin write is still refused, token or not.
        evil = {**token, "Origin": f"https://{EVIL}"}
        assert call(daemon.port, "POST", "/hooks/claude", headers=evil, body=b"{}")[0] == 403
        assert call(daemon.port, "POST", "/hooks/claude", headers=token, body=b"{}")[0] == 204
    finally:
        daemon.kill()


# -- secrets and files ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_files_are_private_and_nothing_secret_is_logged(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # what a user's shell usually has
    try:
        daemon = make_daemon(tmp_path / "d")
        daemon.claude_projects.mkdir(parents=True)
        daemon.start()
    finally:
        os.umask(old_umask)
    try:
        token = daemon.token
        t = ClaudeTranscript(daemon.claude_projects)
        t.write(t.prompt("a secret prompt"))
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        # Hooks, right and wrong; the panel; a mute; a failing request with the token.
        assert call(daemon.port, "POST", "/hooks/claude", headers=auth,
                    body=b'{"hook_event_name": "Stop", "session_id": "s"}')[0] == 204
        assert call(daemon.port, "POST", "/hooks/claude", headers={"Authorization": "Bearer nope"},
                    body=b"{}")[0] == 401
        assert call(daemon.port, "POST", "/hooks/claude", headers=auth, body=b"not json")[0] == 400
        assert call(daemon.port, "POST", "/api/mute", headers=auth, body=b'{"project": "app"}')[0] == 204
        assert call(daemon.port, "GET", "/", headers=auth, host=EVIL)[0] == 403
        status, headers, page = call(daemon.port, "GET", "/", headers=auth)
        assert status == 200
        for _ in range(100):
            if daemon.sessions():
                break
            time.sleep(0.05)
        # The token is in no other answer, and not in runtime.json.
        for path in ("/health", "/api/sessions", "/metrics", "/api/controls", "/api/hooks", "/app.js"):
            answer = call(daemon.port, "GET", path, headers=auth)
            assert answer[0] == 200 and token.encode() not in answer[2], path
        assert mode(state_dir := daemon.state_dir) == 0o700
        assert token not in (state_dir / "runtime.json").read_text()
        assert mode(state_dir / "runtime.json") == 0o600
        assert daemon.stop() == 0
        # The panel page holds no token (its requests carry the login cookie): strict
        # CSP, no caching, no CORS, no framing.
        assert token.encode() not in page
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cross-origin-resource-policy"] == "same-origin"
        assert not [h for h in headers if h.startswith("access-control-")]
        ui = Path(__import__("sessiond.ui", fromlist=["x"]).__file__).parent
        for source in ui.iterdir():
            if source.suffix in (".js", ".html"):
                text = source.read_text()
                assert "token=" not in text.lower() and "?token" not in text.lower(), source

        state = daemon.state_dir
        assert mode(state) == 0o700
        files = sorted(p for p in state.iterdir() if p.is_file())
        names = {p.name for p in files}
        assert {"token", "sessiond.db", "sessiond.log", "daemon.lock"} <= names, names
        for path in files:
            assert mode(path) == 0o600, (path.name, oct(mode(path)))
        logged = (state / "sessiond.log").read_text() + daemon.output()
        assert token not in logged
        assert "nope" not in logged
        assert "sessiond listening" in logged  # the log is the real one
    finally:
        daemon.kill()


def test_database_and_its_wal_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "state" / "sessiond.db")
        store.set_json("k", {"v": 1})
        present = [p for p in (tmp_path / "state").iterdir() if p.name.startswith("sessiond.db")]
        assert {p.name for p in present} >= {"sessiond.db", "sessiond.db-wal", "sessiond.db-shm"}
        for path in present:
            assert mode(path) == 0o600, path.name
        store.close()
        # An existing database left readable by others is tightened on open.
        os.chmod(tmp_path / "state" / "sessiond.db", 0o644)
        Store(tmp_path / "state" / "sessiond.db").close()
        assert mode(tmp_path / "state" / "sessiond.db") == 0o600
    finally:
        os.umask(old)


def test_rotated_log_files_stay_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    path = tmp_path / "sessiond.log"
    handler = _PrivateRotatingFileHandler(path, maxBytes=200, backupCount=2, encoding="utf-8")
    try:
        for i in range(30):
            handler.emit(logging.LogRecord("t", logging.INFO, __file__, 1, f"line {i} " * 5, None, None))
    finally:
        handler.close()
        os.umask(old)
    logs = sorted(tmp_path.glob("sessiond.log*"))
    assert len(logs) == 3
    assert all(mode(p) == 0o600 for p in logs), [(p.name, oct(mode(p))) for p in logs]


def test_state_dir_is_created_0700_and_a_loose_one_is_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "a" / "state"
    ensure_state_dir(fresh)
    assert mode(fresh) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    ensure_state_dir(loose)
    assert mode(loose) == 0o700


def test_a_state_dir_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o777)
    monkeypatch.setattr(os, "getuid", lambda: theirs.stat().st_uid + 1)
    with pytest.raises(DaemonError, match="belongs to another user"):
        ensure_state_dir(theirs)


def test_an_existing_log_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "sessiond.log"
    path.write_text("written by an older release\n")
    os.chmod(path, 0o644)
    handler = _PrivateRotatingFileHandler(path, maxBytes=10_000, backupCount=1, encoding="utf-8")
    try:
        handler.emit(logging.LogRecord("t", logging.INFO, __file__, 1, "a line", None, None))
    finally:
        handler.close()
    assert mode(path) == 0o600
    assert path.read_text().startswith("written by an older release")  # nothing lost


@pytest.mark.parametrize("remote", [False, True])
def test_malformed_requests_carrying_the_token_never_log_it(tmp_path: Path, remote: bool) -> None:
    """aiohttp's parser errors echo the offending header; they are scrubbed, and one kind
    of error is logged once a minute, whatever the number of requests."""
    daemon = make_daemon(tmp_path / "d", args=["--no-notify", *(["--host", "127.0.0.1", "--allow-remote"]
                                                                 if remote else [])])
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        token = daemon.token.encode()
        host = f"Host: 127.0.0.1:{daemon.port}\r\n".encode()

        def status(answer: bytes) -> bytes:
            return answer.split(b" ", 2)[1] if answer else b""

        for _ in range(200):  # one line per kind, not 200
            too_long = raw_exchange(daemon.port, b"GET /api/sessions HTTP/1.1\r\n" + host
                                    + b"Authorization: Bearer " + token + b"x" * 9000 + b"\r\n\r\n")
            assert status(too_long) == b"400"
        control = raw_exchange(daemon.port, b"GET /api/sessions HTTP/1.1\r\n" + host
                               + b"Authorization: Bearer " + token + b"\x01\r\n\r\n")
        assert status(control) == b"400"
        not_utf8 = raw_exchange(daemon.port, b"GET /api/sessions HTTP/1.1\r\n" + host + b"Authorization: "
                                b"Bearer \xff\xfe" + token + b"\r\nConnection: close\r\n\r\n")
        assert status(not_utf8) == b"401"
        head = raw_exchange(daemon.port, b"HEAD /events HTTP/1.1\r\n" + host + b"Authorization: Bearer "
                            + token + b"\r\nConnection: close\r\n\r\n")
        assert status(head) == b"405"
        assert daemon.get("/health")[0] == 200  # still serving
        time.sleep(0.3)
    finally:
        daemon.kill()
    logged = (daemon.state_dir / "sessiond.log").read_text() + daemon.output()
    assert token.decode() not in logged
    assert "[redacted]" in logged  # the errors were logged, without the secret
    assert logged.count("LineTooLong") <= 4  # once a minute (file and stderr), not 200 times


ESCAPES = ["\x1b]0;pwned\x07", "\x1b[2J", "\u202e", "\x9b31m"]


def test_text_from_a_transcript_never_reaches_the_terminal_raw(tmp_path: Path) -> None:
    """`sessiond inspect` printed the transcript's sessionId as it was: a window-title
    escape, a screen clear and a right-to-left override arrived intact."""
    path = tmp_path / "evil.jsonl"
    hostile = "s" + "".join(ESCAPES)
    record = {"type": "user", "sessionId": hostile, "uuid": "u1", "timestamp": "2026-01-01T00:00:00Z",
              "cwd": "/w/" + ESCAPES[1], "message": {"role": "user", "content": "go" + ESCAPES[0]}}
    path.write_text(json.dumps(record) + "\n")
    done = subprocess.run([sys.executable, "-m", "sessiond", "inspect", str(path),
                           "--now", "2026-01-01T00:00:05Z"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "session s" in done.stdout
    for escape in ESCAPES:
        for char in escape:
            if not char.isprintable():
                assert char not in done.stdout, repr(char)


def test_mute_names_are_validated_and_bounded(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path / "d")
    daemon.claude_projects.mkdir(parents=True)
    daemon.start()
    try:
        for bad in [*ESCAPES, "x" * 201, "   "]:
            status, body = daemon.request("POST", "/api/mute", {"project": bad})
            assert status == 400 and body["error"].endswith("."), (bad, body)
        for n in range(256):
            assert daemon.request("POST", "/api/mute", {"project": f"p{n}"})[0] == 204
        status, body = daemon.request("POST", "/api/mute", {"project": "one-too-many"})
        assert status == 409 and "256" in body["error"]
        assert daemon.request("POST", "/api/mute", {"project": "p3"})[0] == 204  # re-muting is fine
        assert daemon.request("POST", "/api/unmute", {"project": "p0"})[0] == 204
        assert daemon.request("POST", "/api/mute", {"project": "one-too-many"})[0] == 204
        # The CLI says the same in one sentence, exit 1, and stores nothing.
        cli = subprocess.run([sys.executable, "-m", "sessiond", "mute", "\x1b[2Jx"], env=daemon.env,
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode == 1 and cli.stderr.count("\n") == 1 and "\x1b" not in cli.stderr
        doctor = subprocess.run([sys.executable, "-m", "sessiond", "doctor"], env=daemon.env,
                                capture_output=True, text=True, timeout=60)
        assert "\x1b" not in doctor.stdout and "p3" in doctor.stdout
    finally:
        daemon.kill()
