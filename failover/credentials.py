"""Credentials per role: which bearer token may do what (docs/security.md).

Four roles, each its own secret:

- ``replication``: a unit instance calling another instance of its unit (journal
  shipments, handshakes, exports for a catch-up, digests);
- ``admin``: a controller calling a unit's ``/admin`` API (roles, catch-up);
- ``operator``: a person moving, failing back, freezing or unfreezing (the controller);
- ``approver``: a named person approving a data-losing promotion (the controller).

A credentials directory (``WATERTIGHT_CREDENTIALS_DIR``; a mounted Kubernetes Secret)
holds one file per role: ``replication``, ``admin``, ``operator`` with one or two tokens,
one a line, and ``approvers`` with ``name token`` lines (a name may have two). Two
tokens are a rollover: both are accepted, the **first** is the one presented to a peer.
Blank lines and lines starting with ``#`` are ignored.

Contracts:

- A process holds only the roles it needs (:meth:`Credentials.from_directory` reads only
  their files) and refuses to start when one of those files is missing or malformed;
  an error names the file and line, never a token.
- Files are re-read when they change (inode, size or mtime), checked on every use, so a
  rotation needs no restart. A file that turns malformed refuses every token of its role
  (fail closed) until it is fixed; replace files atomically (Kubernetes does).
- Tokens are compared in constant time, and one token may not serve two roles.
- :meth:`Credentials.shared` is the development shortcut: one token valid for every role,
  approver name ``shared-token``. It is what ``WATERTIGHT_TOKEN``/``_TOKEN_FILE`` give.
"""

from __future__ import annotations

import hmac
import os
import re
import threading
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx


class Role(StrEnum):
    REPLICATION = "replication"
    ADMIN = "admin"
    OPERATOR = "operator"
    APPROVER = "approver"


FILES: Mapping[Role, str] = {
    Role.REPLICATION: "replication",
    Role.ADMIN: "admin",
    Role.OPERATOR: "operator",
    Role.APPROVER: "approvers",
}
"""The file of each role in a credentials directory."""

SHARED_NAME = "shared-token"
"""The approver name the development shortcut's single token records."""
MAX_TOKENS = 2
MIN_TOKEN_LENGTH = 16
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{16,256}$")
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_FILE_BYTES = 64 * 1024


class CredentialsError(ValueError):
    """A credentials file is missing or malformed; the message names file and line."""


class UnauthenticatedError(Exception):
    """No bearer token was presented (HTTP 401)."""


class WrongCredentialError(Exception):
    """The token is not a credential of the role needed (HTTP 403); ``str`` names the role."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified token belongs to: its role and, for an approver, the person."""

    role: Role
    name: str


def parse_tokens(text: str, source: str) -> tuple[str, ...]:
    """One or two tokens, one a line. Raises :class:`CredentialsError` naming the line."""
    tokens: list[str] = []
    for number, line in _lines(text):
        if not TOKEN_RE.match(line):
            raise CredentialsError(f"{source}:{number}: {_token_rule()}")
        if line in tokens:
            raise CredentialsError(f"{source}:{number}: the same token is given twice")
        tokens.append(line)
    if not tokens:
        raise CredentialsError(f"{source}: no token (one a line; two during a rollover)")
    if len(tokens) > MAX_TOKENS:
        raise CredentialsError(
            f"{source}: {len(tokens)} tokens; at most {MAX_TOKENS} (the old and the new one)"
        )
    return tuple(tokens)


def parse_approvers(text: str, source: str) -> tuple[tuple[str, str], ...]:
    """``name token`` lines; a name may have two tokens (a rollover), a token one name."""
    found: list[tuple[str, str]] = []
    for number, line in _lines(text):
        parts = line.split()
        if len(parts) != 2:
            raise CredentialsError(f"{source}:{number}: expected 'name token'")
        name, token = parts
        if not NAME_RE.match(name):
            raise CredentialsError(f"{source}:{number}: a name is 1-64 of [A-Za-z0-9._-]")
        if not TOKEN_RE.match(token):
            raise CredentialsError(f"{source}:{number}: {_token_rule()}")
        if any(token == t for _, t in found):
            raise CredentialsError(f"{source}:{number}: this token is already given above")
        if sum(1 for n, _ in found if n == name) >= MAX_TOKENS:
            raise CredentialsError(f"{source}:{number}: {name} has more than {MAX_TOKENS} tokens")
        found.append((name, token))
    if not found:
        raise CredentialsError(f"{source}: no approver ('name token', one a line)")
    return tuple(found)


def _token_rule() -> str:
    return f"a token is {MIN_TOKEN_LENGTH}-256 of [A-Za-z0-9._~+/=-] (the line is not shown)"


def _lines(text: str) -> Generator[tuple[int, str], None, None]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


class _RoleFile:
    """One role's file, re-read when its inode, size or mtime changes."""

    def __init__(self, role: Role, path: Path) -> None:
        self.role, self.path = role, path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._entries: tuple[tuple[str, str], ...] = ()
        self._error: CredentialsError | None = None

    def entries(self) -> tuple[tuple[str, str], ...]:
        """``(name, token)`` pairs, current; raises the file's error while it is malformed."""
        with self._lock:
            try:
                stat = os.stat(self.path)  # follows a Secret's ..data symlink swap
            except OSError as exc:
                raise CredentialsError(f"{self.path}: cannot read: {exc.strerror}") from None
            key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if key != self._seen:
                self._seen = key
                self._error = None
                try:
                    self._entries = self._read(stat.st_size)
                except CredentialsError as exc:
                    self._entries, self._error = (), exc
            if self._error is not None:
                raise self._error
            return self._entries

    def _read(self, size: int) -> tuple[tuple[str, str], ...]:
        if size > MAX_FILE_BYTES:
            raise CredentialsError(f"{self.path}: over {MAX_FILE_BYTES} bytes")
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialsError(f"{self.path}: cannot read: {exc}") from None
        if self.role is Role.APPROVER:
            return parse_approvers(text, str(self.path))
        return tuple((str(self.role), t) for t in parse_tokens(text, str(self.path)))


class Credentials:
    """The credentials one process holds: the roles it verifies and the ones it presents.

    Thread-safe. Build with :meth:`from_directory`, :meth:`shared` or :meth:`none`.
    """

    def __init__(self, files: Mapping[Role, _RoleFile], shared: str | None = None) -> None:
        self._files = dict(files)
        self._shared = shared

    @classmethod
    def from_directory(cls, directory: Path, roles: Iterable[Role]) -> Credentials:
        """The files of ``roles`` in ``directory``; raises :class:`CredentialsError` when
        one is missing or malformed, or one token serves two of them."""
        credentials = cls({r: _RoleFile(r, directory / FILES[r]) for r in roles})
        credentials.check()
        return credentials

    @classmethod
    def shared(cls, token: str) -> Credentials:
        """The development shortcut: ``token`` is every role's credential."""
        if not token.strip():
            raise CredentialsError("the shared token is empty")
        return cls({}, shared=token.strip())

    @classmethod
    def none(cls) -> Credentials:
        """No credential: every verification is refused (403), nothing can be presented."""
        return cls({})

    @property
    def configured(self) -> bool:
        return self._shared is not None or bool(self._files)

    def holds(self, role: Role) -> bool:
        return self._shared is not None or role in self._files

    def check(self) -> None:
        """Read every file now: raises :class:`CredentialsError` for the first bad one."""
        owners: dict[str, Role] = {}
        for role, file in self._files.items():
            for _, token in file.entries():
                if token in owners:
                    raise CredentialsError(
                        f"{file.path}: a token of {role} is also one of {owners[token]}; "
                        "every role needs its own"
                    )
                owners[token] = role

    def verify(self, presented: str | None, role: Role) -> Caller:
        """The caller a token proves for ``role``.

        Raises :class:`UnauthenticatedError` without a token, :class:`WrongCredentialError`
        (naming the role needed) when it is not one of that role's current tokens, and
        :class:`CredentialsError` when this process cannot read that role's file.
        """
        if not presented or not presented.strip():
            raise UnauthenticatedError(
                f"send Authorization: Bearer <token> (the {role} credential)"
            )
        given = presented.strip().encode()
        if self._shared is not None:
            if hmac.compare_digest(given, self._shared.encode()):
                return Caller(role, SHARED_NAME if role is Role.APPROVER else str(role))
            raise WrongCredentialError(_needs(role))
        file = self._files.get(role)
        if file is None:
            raise WrongCredentialError(f"{_needs(role)}; this instance holds no {role} credentials")
        match: str | None = None
        # Every entry is compared, so the time taken does not say which one matched.
        for name, token in file.entries():
            if hmac.compare_digest(given, token.encode()):
                match = name
        if match is None:
            raise WrongCredentialError(_needs(role))
        return Caller(role, match)

    def present(self, role: Role) -> str:
        """The token to present for ``role``: the first of its file (the newer one once a
        rollover has moved it first). Raises :class:`CredentialsError`."""
        if self._shared is not None:
            return self._shared
        file = self._files.get(role)
        if file is None:
            raise CredentialsError(f"this process holds no {role} credential to present")
        return file.entries()[0][1]

    def authorization(self, role: Role) -> dict[str, str]:
        """The ``Authorization`` header presenting ``role``'s current token, looked up now
        (so a rotation reaches long-lived clients without reconnecting); no header when
        it cannot be read: the peer refuses the call (401) and the caller reports that."""
        try:
            token = self.present(role)
        except CredentialsError:
            return {}
        return {"Authorization": f"Bearer {token}"} if token else {}

    def auth(self, role: Role) -> BearerAuth:
        """An httpx auth presenting ``role``'s current token on every request."""
        return BearerAuth(self, role)


def _needs(role: Role) -> str:
    return f"this needs the {role} credential"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <current token>``, looked up per request so a rotation
    reaches long-lived clients (a replication link) without reconnecting."""

    def __init__(self, credentials: Credentials, role: Role) -> None:
        self._credentials, self._role = credentials, role

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._credentials.authorization(self._role))
        yield request


def write_directory(directory: Path, approvers: Iterable[str], token: Callable[[], str]) -> None:
    """Create a credentials directory (mode 0700, files 0600) with a fresh token per role
    and per approver; ``token`` makes one (``secrets.token_urlsafe``). Existing files are
    kept, so a platform restarted on the same state keeps its credentials."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    contents = {FILES[r]: f"{token()}\n" for r in (Role.REPLICATION, Role.ADMIN, Role.OPERATOR)}
    contents[FILES[Role.APPROVER]] = "".join(f"{name} {token()}\n" for name in approvers)
    for name, text in contents.items():
        path = directory / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)


def read_token(directory: Path, role: Role, name: str | None = None) -> str:
    """What a client (the CLI, a drill) presents for ``role`` from ``directory``: the
    first token of the role's file, or of approver ``name`` (the first one listed when
    ``name`` is None). Raises :class:`CredentialsError`."""
    entries = _RoleFile(role, directory / FILES[role]).entries()
    for listed, token in entries:
        if name is None or listed == name:
            return token
    names = ", ".join(sorted({n for n, _ in entries}))
    raise CredentialsError(f"{directory / FILES[role]}: no approver {name!r} (listed: {names})")
