"""``watertight switchover | failover | failback | approve | freeze | unfreeze | events``.

Thin wrappers of the controller API (docs/controller.md §11). The controllers come from
the platform state (or ``--controller URL``). The credential each call needs
(docs/security.md) comes from ``--token-file PATH`` or, by default, the platform's
credentials directory: the operator's for moves and freezes, an approver's (``--as NAME``,
default the first listed) for ``approve``; ``--token VALUE`` is there but shows the
token to ``ps`` and the shell's history. Mutating calls go to the leader: a non-leader's
503 names it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from failover.credentials import CredentialsError, Role, read_token
from failover.tls import client_verify
from infra.local.platform import LocalPlatform
from infra.local.state import PlatformError
from watertight.commands.common import JsonFlag, StateDir, fail, json_requested

TIMEOUT = httpx.Timeout(120.0, connect=2.0)
LEADER_ATTEMPTS = 4
STATUS_TIMEOUT = httpx.Timeout(3.0, connect=1.0)
LEADER_PAUSE_SECONDS = 2.0

Controller = Annotated[
    str | None, typer.Option("--controller", help="Controller URL (default: from the platform).")
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="The token itself (visible in ps; prefer --token-file)."),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="A file holding your token (default: the platform's credentials directory).",
    ),
]
Unit = Annotated[str | None, typer.Option("--unit", help="One unit, e.g. u03.")]
SiteOpt = Annotated[str | None, typer.Option("--site", help="Every unit whose primary is there.")]
To = Annotated[str, typer.Option("--to", help="Target site.")]


def _targets(state_dir: Path, controller: str | None) -> list[str]:
    if controller:
        return [controller.rstrip("/")]
    try:
        urls = LocalPlatform(state_dir).state().controller_urls
    except PlatformError as exc:
        fail(str(exc))
    if not urls:
        fail("the platform runs no controllers")
    return urls


def _token(
    state_dir: Path, token: str | None, token_file: Path | None,
    role: Role = Role.OPERATOR, approver: str | None = None,
) -> str:  # fmt: skip
    """The token to present for ``role``: given, from ``token_file`` (its first line), or
    from the local platform's credentials directory."""
    if token is not None:
        return token
    try:
        if token_file is not None:
            return token_file.read_text(encoding="utf-8").splitlines()[0].strip()
        directory = Path(LocalPlatform(state_dir).state().credentials_dir)
        return read_token(directory, role, approver)
    except (PlatformError, OSError, IndexError, CredentialsError) as exc:
        fail(f"cannot read the {role} credential: {exc or 'empty file'}")


def _post(urls: list[str], path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    """POST to the leader: try each controller, follow a not_leader answer's leader_url;
    while no controller leads (an election in progress), try again a few times."""
    last = "no controller answered"
    with httpx.Client(timeout=TIMEOUT, verify=client_verify()) as client:
        for attempt in range(LEADER_ATTEMPTS):
            if attempt:
                time.sleep(LEADER_PAUSE_SECONDS)
            answer = _post_once(client, urls, path, body, token)
            if isinstance(answer, dict):
                return answer
            last = answer
    fail(last, error="no_leader")


def _post_once(
    client: httpx.Client, urls: list[str], path: str, body: dict[str, Any], token: str
) -> dict[str, Any] | str:
    """The leader's answer, or why no controller took the request."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    tried: list[str] = []
    queue = _answering_leader_first(client, urls)
    last = "no controller answered"
    while queue:
        url = queue.pop(0)
        if url in tried:
            continue
        tried.append(url)
        try:
            response = client.post(f"{url}{path}", json=body, headers=headers)
        except httpx.HTTPError as exc:
            last = f"{url}: {type(exc).__name__}"
            continue
        answer = _json(response)
        if response.status_code == 503 and answer.get("error") == "not_leader":
            if answer.get("leader_url"):
                queue.insert(0, str(answer["leader_url"]))
            last = str(answer.get("detail"))
            continue
        if response.status_code >= 400:
            code = str(answer.get("error", f"http_{response.status_code}"))
            detail = str(answer.get("detail", ""))
            fail(detail if json_requested() else f"{code}: {detail}", error=code)
        return answer
    return last


def _answering_leader_first(client: httpx.Client, urls: list[str]) -> list[str]:
    """Controllers that answer ``/v1/status`` quickly, the leader first. A hung controller
    (SIGSTOPped site) accepts TCP and never answers: it must not hold a request for long."""
    answering: list[tuple[bool, str]] = []
    for url in urls:
        try:
            status = client.get(f"{url}/v1/status", timeout=STATUS_TIMEOUT).json()
        except (httpx.HTTPError, ValueError):
            continue
        answering.append((not (isinstance(status, dict) and status.get("is_leader")), url))
    return [url for _, url in sorted(answering, key=lambda pair: pair[0])]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"error": str(response.status_code), "detail": response.text}
    return body if isinstance(body, dict) else {"detail": body}


def _show(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(answer, indent=2, sort_keys=True))
        return
    for move in answer.get("moves", []):
        typer.echo(move)
    if "approval" in answer:
        a = answer["approval"]
        by = ", ".join(a.get("approvers", []))
        if a["status"] == "pending":  # more approvers needed (policy.distinct_approvers)
            typer.echo(f"approval {a['id']} given by {by}; it waits for another approver")
        else:
            typer.echo(
                f"approved {a['id']} by {by}: promote {a['unit']} in {a['to_site']} accepting "
                f"loss of {a['accepted_loss']} entries"
            )
    if "frozen" in answer:
        typer.echo("frozen" if answer["frozen"] else "unfrozen")


def switchover(
    to: To, unit: Unit = None, site: SiteOpt = None, state_dir: StateDir = Path(".watertight"),
    controller: Controller = None, token: Token = None, token_file: TokenFile = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Planned move of one unit or a whole site's units: drain, catch up, move, verify."""
    body = {"unit": unit, "site": site, "to": to}
    answer = _post(
        _targets(state_dir, controller),
        "/v1/switchover",
        body,
        _token(state_dir, token, token_file),
    )
    _show(answer, as_json)


def failover(
    to: To, unit: Unit = None, site: SiteOpt = None, state_dir: StateDir = Path(".watertight"),
    controller: Controller = None, token: Token = None, token_file: TokenFile = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Manual, person-initiated move (same safety steps as a switchover)."""
    body = {"unit": unit, "site": site, "to": to}
    answer = _post(
        _targets(state_dir, controller), "/v1/failover", body, _token(state_dir, token, token_file)
    )
    _show(answer, as_json)


def failback(
    site: Annotated[str, typer.Option("--site", help="Site to move its units back to.")],
    state_dir: StateDir = Path(".watertight"),
    controller: Controller = None, token: Token = None, token_file: TokenFile = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Switch every unit placed in SITE back there (after its stability window)."""
    urls = _targets(state_dir, controller)
    _show(
        _post(urls, "/v1/failback", {"site": site}, _token(state_dir, token, token_file)), as_json
    )


def approve(
    approval_id: Annotated[str, typer.Argument(help="Approval id, e.g. a-1f2e3d.")],
    accept_loss: Annotated[int | None, typer.Option(help="Entries you accept to lose.")] = None,
    approver: Annotated[
        str | None,
        typer.Option("--as", help="Approver name in the platform's approvers file (local)."),
    ] = None,
    state_dir: StateDir = Path(".watertight"),
    controller: Controller = None, token: Token = None, token_file: TokenFile = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Approve a data-losing or remote-dr promotion (see `watertight status`) as the
    approver your credential names; the controller records that name."""
    body: dict[str, Any] = {"accept_loss": accept_loss}
    path = f"/v1/approvals/{approval_id}"
    signed = _token(state_dir, token, token_file, Role.APPROVER, approver)
    _show(_post(_targets(state_dir, controller), path, body, signed), as_json)


def freeze(
    reason: Annotated[str, typer.Option(help="Why.")] = "frozen from the CLI",
    state_dir: StateDir = Path(".watertight"),
    controller: Controller = None, token: Token = None, token_file: TokenFile = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Suspend automatic actions (decisions are still made and recorded)."""
    body = {"reason": reason, "by": "cli"}
    _show(
        _post(
            _targets(state_dir, controller),
            "/v1/freeze",
            body,
            _token(state_dir, token, token_file),
        ),
        as_json,
    )


def unfreeze(
    state_dir: StateDir = Path(".watertight"),
    controller: Controller = None, token: Token = None, token_file: TokenFile = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Resume automatic actions."""
    _show(
        _post(
            _targets(state_dir, controller),
            "/v1/unfreeze",
            {},
            _token(state_dir, token, token_file),
        ),
        as_json,
    )


def events(
    state_dir: StateDir = Path(".watertight"),
    controller: Controller = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. promoted.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every reachable controller's events, merged in time order.

    Each line starts with the event's time in UTC (ISO 8601, milliseconds); ``--json``
    keeps ``at`` as the controller sent it, Unix seconds."""
    merged = collect_events(_targets(state_dir, controller), kind)
    if as_json:
        typer.echo(json.dumps({"events": merged}, indent=2, sort_keys=True))
        return
    for e in merged:
        when = utc_time(e["at"])
        typer.echo(f"{when} {e['controller']:<10} {e['kind']:<18} {e['summary']}")


def utc_time(seconds: float) -> str:
    """``2026-11-29T10:15:03.123Z``: Unix seconds as a person reads them."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def collect_events(urls: list[str], kind: str | None = None) -> list[dict[str, Any]]:
    """Events of every controller that answers, oldest first (each store is per site)."""
    found: list[dict[str, Any]] = []
    params = {"kind": kind} if kind else {}
    with httpx.Client(timeout=httpx.Timeout(3.0, connect=1.0), verify=client_verify()) as client:
        for url in urls:
            try:
                found.extend(client.get(f"{url}/v1/events", params=params).json()["events"])
            except (httpx.HTTPError, ValueError, KeyError):
                continue
    return sorted(found, key=lambda e: (e["at"], e["controller"], e["id"]))


def register(cli: typer.Typer) -> None:
    for command in (switchover, failover, failback, approve, freeze, unfreeze, events):
        cli.command(command.__name__)(command)
