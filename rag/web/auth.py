"""Who may use a shared app: a login checked against a file of `user:password` lines.

Gradio's own login (`launch(auth=...)`) guards the page and every API endpoint, `gradio_client`
included; this module only reads the file and compares. The file stays outside the repository
and readable by the server's user alone; a password is compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path

from rag.errors import ConfigError


def read_users(path: Path) -> dict[str, str]:
    """user → password from `path` (one `user:password` a line; blank lines and `#` comments skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"RAG_AUTH_FILE {path}: cannot be read ({exc})") from exc
    users: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"RAG_AUTH_FILE {path}, line {n}: expected user:password")
        users[user.strip()] = password
    if not users:
        raise ConfigError(f"RAG_AUTH_FILE {path}: no user:password lines; nobody could log in")
    return users


def checker(users: dict[str, str]) -> Callable[[str, str], bool]:
    """Gradio's `auth` callable: True for a known user with the right password."""

    def check(user: str, password: str) -> bool:
        expected = users.get(user)
        # (compared even for an unknown user, so the time taken does not tell which users exist)
        ok = hmac.compare_digest((expected or "\0").encode(), (password or "").encode())
        return expected is not None and ok

    return check
