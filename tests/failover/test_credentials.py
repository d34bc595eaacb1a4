"""The credentials store: parsing, roles, rotation by rewriting files (no restart)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.credentials import (
    SHARED_NAME,
    Credentials,
    CredentialsError,
    Role,
    UnauthenticatedError,
    WrongCredentialError,
    parse_approvers,
    parse_tokens,
    read_token,
    write_directory,
)

A, B, C = "a" * 20, "b" * 20, "c" * 20


def _write(path: Path, text: str) -> None:
    # Atomic replace, as a Kubernetes Secret update is; the new inode marks the change.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    write_directory(tmp_path, ["alice", "bob"], lambda: secrets.token_urlsafe(32))
    return tmp_path


def test_a_role_file_holds_one_or_two_tokens_and_ignores_comments() -> None:
    assert parse_tokens(f"# current\n{A}\n\n{B}\n", "f") == (A, B)
    assert parse_tokens(f"  {A}  \n", "f") == (A,)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "f: no token"),
        (f"{A}\n{B}\n{C}\n", "at most 2"),
        (f"{A}\n{A}\n", "f:2: the same token"),
        ("short\n", "f:1: a token is 16-256"),
        (f"{A} {B}\n", "f:1:"),
    ],
)
def test_a_malformed_role_file_is_refused_naming_file_and_line(text: str, says: str) -> None:
    with pytest.raises(CredentialsError, match=says) as caught:
        parse_tokens(text, "f")
    assert A not in str(caught.value) and B not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no approver"),
        ("alice\n", "f:1: expected 'name token'"),
        (f"al ice {A}\n", "f:1: expected"),
        (f"al/ice {A}\n", "f:1: a name"),
        (f"alice {A}\nbob {A}\n", "f:2: this token is already"),
        (f"alice {A}\nalice {B}\nalice {C}\n", "f:3: alice has more than 2"),
        ("alice tooshort\n", "f:1: a token"),
    ],
)
def test_a_malformed_approvers_file_is_refused_naming_file_and_line(text: str, says: str) -> None:
    with pytest.raises(CredentialsError, match=says) as caught:
        parse_approvers(text, "f")
    assert A not in str(caught.value)


tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~+/=-",
                 min_size=16, max_size=64)  # fmt: skip


@given(st.lists(tokens, min_size=1, max_size=2, unique=True), st.sampled_from(["\n", "\r\n"]))
def test_any_one_or_two_well_formed_tokens_parse_back(given_tokens: list[str], end: str) -> None:
    assert parse_tokens(end.join(given_tokens) + end, "f") == tuple(given_tokens)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_a_credentials_error(text: str) -> None:
    for parse in (parse_tokens, parse_approvers):
        try:
            parse(text, "f")
        except CredentialsError as exc:
            assert str(exc).startswith("f")


def test_each_role_verifies_only_its_own_tokens(directory: Path) -> None:
    held = Credentials.from_directory(directory, list(Role))
    for role in Role:
        token = read_token(directory, role)
        assert held.verify(token, role).role is role
        for other in set(Role) - {role}:
            with pytest.raises(WrongCredentialError, match=f"needs the {other} credential"):
                held.verify(token, other)


def test_an_approver_token_names_its_person(directory: Path) -> None:
    held = Credentials.from_directory(directory, [Role.APPROVER])
    assert held.verify(read_token(directory, Role.APPROVER, "bob"), Role.APPROVER).name == "bob"
    with pytest.raises(CredentialsError, match="no approver 'carol'"):
        read_token(directory, Role.APPROVER, "carol")


def test_a_process_cannot_verify_a_role_it_was_not_given(directory: Path) -> None:
    unit = Credentials.from_directory(directory, [Role.REPLICATION, Role.ADMIN])
    with pytest.raises(WrongCredentialError, match="holds no operator credentials"):
        unit.verify(read_token(directory, Role.OPERATOR), Role.OPERATOR)


def test_no_token_is_unauthenticated_and_no_credentials_refuse_everything() -> None:
    with pytest.raises(UnauthenticatedError):
        Credentials.none().verify(None, Role.ADMIN)
    with pytest.raises(WrongCredentialError):
        Credentials.none().verify(A, Role.ADMIN)


def test_a_missing_file_or_a_token_shared_by_two_roles_refuses_to_load(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="admin: cannot read"):
        Credentials.from_directory(tmp_path, [Role.ADMIN])
    (tmp_path / "admin").write_text(f"{A}\n")
    (tmp_path / "replication").write_text(f"{B}\n{A}\n")
    with pytest.raises(CredentialsError, match="every role needs its own"):
        Credentials.from_directory(tmp_path, [Role.ADMIN, Role.REPLICATION])


def test_rotation_accepts_old_and_new_during_the_rollover_and_refuses_the_old_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "replication"
    path.write_text(f"{A}\n")
    held = Credentials.from_directory(tmp_path, [Role.REPLICATION])
    assert held.present(Role.REPLICATION) == A
    _write(path, f"{A}\n{B}\n")  # step 1: everyone accepts the new one, still presents the old
    assert held.verify(A, Role.REPLICATION) and held.verify(B, Role.REPLICATION)
    assert held.present(Role.REPLICATION) == A
    _write(path, f"{B}\n{A}\n")  # step 2: everyone presents the new one
    assert held.present(Role.REPLICATION) == B
    _write(path, f"{B}\n")  # step 3: the old one is gone
    with pytest.raises(WrongCredentialError):
        held.verify(A, Role.REPLICATION)
    assert held.verify(B, Role.REPLICATION).role is Role.REPLICATION


def test_a_file_that_turns_malformed_refuses_its_role_until_fixed(tmp_path: Path) -> None:
    path = tmp_path / "admin"
    path.write_text(f"{A}\n")
    held = Credentials.from_directory(tmp_path, [Role.ADMIN])
    _write(path, "oops\n")
    with pytest.raises(CredentialsError, match="admin:1"):
        held.verify(A, Role.ADMIN)
    _write(path, f"{A}\n")
    assert held.verify(A, Role.ADMIN).role is Role.ADMIN


def test_the_shared_development_token_is_every_role(directory: Path) -> None:
    shared = Credentials.shared(A)
    assert shared.verify(A, Role.APPROVER).name == SHARED_NAME
    assert shared.verify(A, Role.REPLICATION).role is Role.REPLICATION
    with pytest.raises(WrongCredentialError):
        shared.verify(B, Role.ADMIN)


def test_written_directories_are_private_and_kept_across_restarts(tmp_path: Path) -> None:
    target = tmp_path / "creds"
    write_directory(target, ["alice"], lambda: secrets.token_urlsafe(32))
    before = read_token(target, Role.ADMIN)
    write_directory(target, ["alice"], lambda: secrets.token_urlsafe(32))
    assert read_token(target, Role.ADMIN) == before
    assert target.stat().st_mode & 0o777 == 0o700
    assert {(p.name, p.stat().st_mode & 0o777) for p in target.iterdir()} == {
        ("replication", 0o600), ("admin", 0o600), ("operator", 0o600), ("approvers", 0o600)
    }  # fmt: skip
