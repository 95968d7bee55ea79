"""Who may use the daemon: its owner, proven by the token or by the panel's cookie.

The token is the secret in the state dir (0600, readable by its owner only). A request
carries it as `Authorization: Bearer <token>` (hooks, the CLI), or carries the session
cookie that `GET /login?token=…` sets (the panel: `sessiond open` opens that link). The
cookie's value is derived from the token (an HMAC), so it outlives daemon restarts and
dies when the token is rotated; it is never the token itself.

The token file is watched: `sessiond token --rotate` takes effect on the next request,
with no restart (one `stat` per request).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from aiohttp import web
from sessiond.logs import add_secret
from sessiond.statedir import read_token

COOKIE = "sessiond"
# Long enough that a bookmarked panel does not ask for `sessiond open` every morning;
# the cookie still dies at once when the token is rotated.
COOKIE_MAX_AGE_S = 30 * 24 * 3600
LOGIN_HINT = "Run `sessiond open` to open the panel, or send the token from the state dir as a Bearer token."
_COOKIE_LABEL = b"sessiond panel cookie v1"


class Access:
    def __init__(self, token: str, token_file: Path | None = None) -> None:
        self._token = token
        add_secret(token)
        self._file = token_file
        self._seen: tuple[int, int, int] | None = self._stat()

    def token(self) -> str:
        """The current token (re-read when the file changed: a rotation)."""
        seen = self._stat()
        if seen is not None and seen != self._seen:
            fresh = read_token(self._file) if self._file else None
            if fresh:
                self._token = fresh
                add_secret(fresh)
            self._seen = seen
        return self._token

    def cookie_value(self) -> str:
        return hmac.new(self.token().encode(), _COOKIE_LABEL, hashlib.sha256).hexdigest()

    def token_matches(self, supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode("utf-8", "surrogateescape"), self.token().encode())

    def by_cookie(self, request: web.Request) -> bool:
        """Does the request carry the panel's login cookie?"""
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.cookie_value().encode())

    def allows(self, request: web.Request) -> bool:
        """Does the request carry the token or the panel's cookie?"""
        header = request.headers.get("Authorization", "")
        scheme, _, supplied = header.partition(" ")
        if scheme.lower() == "bearer" and supplied.strip() and self.token_matches(supplied.strip()):
            return True
        return self.by_cookie(request)

    def _stat(self) -> tuple[int, int, int] | None:
        if self._file is None:
            return None
        try:
            st = os.stat(self._file)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size


def login_cookie(response: web.StreamResponse, access: Access) -> None:
    response.set_cookie(COOKIE, access.cookie_value(), max_age=COOKIE_MAX_AGE_S, path="/",
                        httponly=True, samesite="Strict")
