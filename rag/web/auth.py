"""Who may use a shared app: a login checked against a file of `user:password` lines, the admins
among them who may change the documents, and the rule that a server reachable from other machines
has a login.

Gradio's own login (`launch(auth=...)`) guards the page and every API endpoint, `gradio_client`
included; this module only reads the file and compares. The file stays outside the repository
and readable by the server's user alone; a password is compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
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


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: 127.0.0.0/8, ::1 and "localhost". Any other
    name counts as reachable from outside (it is not resolved: a name can point anywhere later)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "", 0.0.0.0's spelling "0", a host name: treated as exposed


def exposure(host: str, auth_file: Path | None, insecure: bool) -> str | None:
    """Refuse to serve a non-loopback `host` without a login file (a ConfigError naming the way out);
    with `insecure`, the warning line to print instead. None: nothing to say."""
    if auth_file is not None or is_loopback(host):
        return None
    if not insecure:
        raise ConfigError(
            f"refusing to serve {host!r} without a login: other machines could reach it; set "
            "RAG_AUTH_FILE to a file of user:password lines, or start with --insecure (RAG_INSECURE=1) "
            "to serve it open anyway")
    return (f"serving {host!r} with no login (--insecure): anyone who can reach this machine "
            "can ask, upload and remove documents")


@dataclass(frozen=True)
class Access:
    """Who may change the documents. `admins` empty: every logged-in user (or anyone, with no login)."""

    admins: frozenset[str] = frozenset()

    def denial(self, username: str | None, action: str) -> str | None:
        """The one-line refusal for `username` doing `action` ("upload documents"), or None if allowed."""
        if not self.admins or (username is not None and username in self.admins):
            return None
        who = f"you are logged in as {username}" if username else "you are not logged in"
        return f"only an admin can {action} (RAG_ADMIN_USERS); {who}, so the documents are unchanged"


def access(admins: frozenset[str], users: dict[str, str] | None, auth_file: Path | None = None) -> Access:
    """The admin rule (RAG_ADMIN_USERS), checked against the login file's users: an admin who
    cannot log in is a misspelling, and without a login file nobody could be told to be one."""
    if not admins:
        return Access()
    if users is None:
        raise ConfigError("RAG_ADMIN_USERS needs RAG_AUTH_FILE: without a login nobody can be told to be an admin")
    unknown = sorted(admins - users.keys())
    if unknown:
        raise ConfigError(f"RAG_ADMIN_USERS names {', '.join(unknown)}, not a user of RAG_AUTH_FILE {auth_file}")
    return Access(admins)
