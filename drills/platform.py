"""The platform port the drill runner drives, and its local implementation.

A drill needs a platform that can: inject the library's faults, carry out operator moves
(switchover, failover, failback, approve), tell the controller's events and a few facts
(leader site, site verdicts, pending approvals, placement). :class:`DrillPlatform` is that
port; the runner knows nothing else about where the sites come from.

:class:`LocalPlatform` drives the local platform only through its public interfaces
(import-linter forbids ``infra`` and ``watertight`` here): the ``watertight`` CLI in a
subprocess (``sys.executable -m watertight``) for ``up``/``down``/``status``/``fault``,
and the controller's HTTP API (docs/design.md §5) for operator moves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from drills.controller import (
    ControllerClient,
    ControllerError,
    leader_site,
    pending_approvals,
    site_verdict,
)
from drills.controller_event import ControllerEvent
from drills.steps import Approve, DeclareDisaster, Failback, Failover, Switchover
from failover.credentials import FILES, CredentialsError, Role, parse_approvers, read_token
from failover.tls import ENV as TLS_ENV
from failover.tls import client_verify
from failover.topology import Topology

log = logging.getLogger(__name__)

Operation = Switchover | Failover | Failback | Approve | DeclareDisaster
UP_ATTEMPTS = 2
UP_TIMEOUT_SECONDS = 1800
"""``up`` may build the docker platform's image first (minutes on a fresh machine)."""
CREDENTIALS_DIR = "credentials"  # the local platform's per-role credentials, in its state dir
OPERATOR_TLS_DIR = Path("tls") / "operator"  # its operator's certificate, after `up --tls`
FAULT_JOURNAL = "faults.jsonl"  # one JSON object per fault, appended by `watertight fault`
PLATFORM_CONDITIONS = frozenset(
    {
        "approval-pending",
        "approval-pending-every-unit",
        "site-declared-down",
        "site-declared-up",
        "placement-restored",
    }
)


class PlatformError(RuntimeError):
    """A platform action that did not happen; the message says why."""


@dataclass(frozen=True, slots=True)
class FaultDone:
    """A fault the platform applied: its sentence and, when the platform knows it, the
    wall time (``time.time()``) from which it took effect."""

    sentence: str
    took_effect_at: float | None = None


class DrillPlatform(Protocol):
    """What the runner needs from a platform. Every call is safe to repeat."""

    @property
    def name(self) -> str: ...

    @property
    def router_url(self) -> str: ...

    @property
    def topology(self) -> Topology: ...

    async def fault(self, command: str) -> FaultDone:
        """Run a ``watertight fault`` command line (e.g. ``site-down production``,
        ``heal``); return what the platform did. Raises :class:`PlatformError`."""
        ...

    async def operate(self, step: Operation) -> str:
        """Ask the controller for an operator move. Raises :class:`PlatformError`."""
        ...

    async def events(self, wall_started_at: float) -> list[ControllerEvent]:
        """Controller events so far, on the drill clock; empty without a controller."""
        ...

    async def leader_site(self) -> str | None:
        """Site of the controller leader now, or None when unknown."""
        ...

    async def announce(self, drill: str, note: str) -> None:
        """Tell the controllers what the drill just did (their consoles' timelines).
        Best-effort: never raises, changes nothing the drill judges."""
        ...

    async def holds(self, condition: str, site: str | None) -> bool:
        """Whether a :data:`PLATFORM_CONDITIONS` condition holds now."""
        ...


class LocalPlatform:
    """The local platform in ``state_dir``, driven through the CLI and HTTP."""

    def __init__(
        self,
        state_dir: Path,
        topology_file: Path,
        topology: Topology,
        summary: Mapping[str, Any],
    ) -> None:
        self.state_dir = state_dir
        self.name = str(summary.get("platform") or "local")
        """``local`` or ``docker``, as ``up``/``status`` said (``watertight`` finds the
        platform from the state dir, so every other call is the same for both)."""
        self.topology_file = topology_file
        self._topology = topology
        self._router_url = str(summary["router_url"])
        self.controller_urls: list[str] = list(summary.get("controller_urls") or [])
        self.console_url: str | None = summary.get("console_url")
        """The live web console (``up --json``), None from an older ``up``."""
        # A platform started with --tls only answers its operator's certificate.
        operator_tls = state_dir / OPERATOR_TLS_DIR
        tls_env = {TLS_ENV: str(operator_tls)} if operator_tls.is_dir() else {}
        self._http = httpx.AsyncClient(verify=client_verify(tls_env))
        credentials = state_dir / CREDENTIALS_DIR
        operator, approvers = _operator(credentials), _approvers(credentials)
        self.controller = ControllerClient(self.controller_urls, self._http, operator, approvers)

    @property
    def router_url(self) -> str:
        return self._router_url

    @property
    def topology(self) -> Topology:
        return self._topology

    # -- lifecycle ----------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        state_dir: Path,
        topology_file: Path,
        topology: Topology,
        *,
        tls: bool = False,
        platform: str = "local",
    ) -> LocalPlatform:
        """``watertight up`` (``--tls``, ``--platform docker`` when asked); on failure
        everything it started is stopped again, and ``up`` is tried once more (a free port
        can be taken by another process in between)."""
        flags = ["--tls"] if tls else []
        flags += ["--platform", platform]
        for attempt in range(1, UP_ATTEMPTS + 1):
            try:
                out = await watertight("up", "--json", "--topology", str(topology_file), *flags,
                                       state_dir=state_dir, timeout=UP_TIMEOUT_SECONDS)  # fmt: skip
                return cls(state_dir, topology_file, topology, json.loads(out))
            except PlatformError:
                stopped = await stop_local(state_dir)
                if attempt == UP_ATTEMPTS or not stopped:
                    raise
                shutil.rmtree(state_dir, ignore_errors=True)  # start clean (etcd data and all)
        raise AssertionError("unreachable")

    @classmethod
    async def attach(
        cls, state_dir: Path, topology_file: Path, topology: Topology
    ) -> LocalPlatform:
        """A platform someone else started (``watertight status --json``)."""
        out = await watertight("status", "--json", state_dir=state_dir, timeout=60)
        return cls(state_dir, topology_file, topology, json.loads(out))

    async def close(self) -> None:
        await self._http.aclose()

    # -- the port -----------------------------------------------------------------------

    async def fault(self, command: str) -> FaultDone:
        out = await watertight("fault", *shlex.split(command), state_dir=self.state_dir)
        return FaultDone(out.strip(), last_fault_began_at(self.state_dir))

    async def operate(self, step: Operation) -> str:
        try:
            if isinstance(step, Approve):
                return await self._approve(step)
            if isinstance(step, DeclareDisaster):
                out = await watertight(
                    "disaster", "declare", "--survivor", step.survivor, state_dir=self.state_dir
                )
                return out.strip()
            if isinstance(step, Failback):
                site = step.to_site or step.from_site
                return await self.controller.post("/v1/failback", {"site": site})
            return await self._move(step)
        except ControllerError as exc:
            raise PlatformError(str(exc)) from exc

    async def _move(self, step: Switchover | Failover) -> str:
        """One request per unit named, else per site the units move away from (the
        ``from`` site, or every site but ``to``). Succeeds if any request succeeded."""
        if step.to_site is None:
            raise PlatformError(f"{step.name} needs 'to' (the target site)")
        if step.units:
            bodies = [{"unit": u, "to": step.to_site} for u in step.units]
        else:
            sources = [step.from_site] if step.from_site else [
                s for s in self.topology.site_names if s != step.to_site
            ]  # fmt: skip
            bodies = [{"site": s, "to": step.to_site} for s in sources]
        done, refused = [], []
        for body in bodies:
            try:
                done.append(await self.controller.post(f"/v1/{step.name}", body))
            except ControllerError as exc:
                refused.append(str(exc))
        if not done:
            raise PlatformError("; ".join(refused))
        return "; ".join(done)

    async def _approve(self, step: Approve) -> str:
        status = await self.controller.status()
        pending = pending_approvals(status or {})
        if step.units:
            pending = [p for p in pending if p.get("unit") in step.units]
        if not pending:
            raise PlatformError("no pending approval to approve")
        done = []
        for approval in pending:
            loss = approval.get("estimated_loss", 0) if step.accept_loss else 0
            # The approvers are the ones the platform's credentials name, as many as needed.
            await self.controller.approve(approval["id"], {"accept_loss": loss})
            done.append(f"{approval['id']} ({approval.get('unit')}, loss {loss})")
        return "approved " + ", ".join(done)

    async def events(self, wall_started_at: float) -> list[ControllerEvent]:
        return await self.controller.events(wall_started_at)

    async def announce(self, drill: str, note: str) -> None:
        await self.controller.note(drill, note)

    async def leader_site(self) -> str | None:
        status = await self.controller.status()
        return leader_site(status, self.topology.site_names) if status else None

    async def holds(self, condition: str, site: str | None) -> bool:
        if condition == "placement-restored":
            return await self._placement_restored()
        status = await self.controller.status()
        if status is None:
            return False
        if condition == "approval-pending":
            return bool(pending_approvals(status))
        if condition == "approval-pending-every-unit":
            waiting = {p.get("unit") for p in pending_approvals(status)}
            return waiting >= set(self.topology.units)
        verdict = site_verdict(status, site or "")
        want = "down" if condition == "site-declared-down" else "up"
        return verdict == want

    async def _placement_restored(self) -> bool:
        try:
            report = json.loads(await watertight("status", "--json", state_dir=self.state_dir))
        except (PlatformError, ValueError):
            return False
        routes = report.get("routes") or {}
        return all(
            (routes.get(unit) or {}).get("site") == self.topology.placement(unit).primary
            for unit in self.topology.units
        )


async def watertight(*args: str, state_dir: Path, timeout: float = 120.0) -> str:
    """Run ``python -m watertight ARGS --state-dir D``; stdout, or :class:`PlatformError`
    carrying stderr when it exits non-zero or overruns ``timeout``."""
    argv = [sys.executable, "-m", "watertight", *args, "--state-dir", str(state_dir)]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C reaches the runner, which then rolls back
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise PlatformError(f"`watertight {' '.join(args)}` took over {timeout:g} s") from exc
    if process.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        reason = message[-1] if message else f"exit status {process.returncode}"
        raise PlatformError(f"`watertight {' '.join(args)}` failed: {reason}")
    return out.decode(errors="replace")


async def stop_local(state_dir: Path) -> bool:
    """``watertight down``; never raises (used in ``finally`` blocks). False, said on
    stderr with the command that finishes the job, when the platform did not stop: its
    state dir then stays, since it is how its processes are found again."""
    try:
        await watertight("down", state_dir=state_dir, timeout=120)
    except PlatformError as exc:
        log.warning(
            "the drill's platform did not stop (%s); its processes may still run: "
            "watertight down --state-dir %s",
            exc,
            state_dir,
        )
        return False
    return True


@asynccontextmanager
async def local_platform(
    topology_file: Path,
    topology: Topology,
    attach: Path | None = None,
    *,
    tls: bool = False,
    platform: str = "local",
) -> AsyncIterator[LocalPlatform]:
    """A platform on this machine for one drill: ``attach`` to a running one (left
    running; it keeps the TLS it was started with), or start a fresh one (``platform``
    ``local`` or ``docker``; with mutual TLS between sites when ``tls``) in a temporary
    state dir and always stop and remove it after."""
    if attach is not None:
        attached = await LocalPlatform.attach(attach, topology_file, topology)
        try:
            yield attached
        finally:
            await attached.close()
        return
    state_dir = Path(tempfile.mkdtemp(prefix="watertight-drill-"))
    try:
        started = await LocalPlatform.start(
            state_dir, topology_file, topology, tls=tls, platform=platform
        )
        try:
            yield started
        finally:
            await started.close()
    finally:
        if await stop_local(state_dir):
            shutil.rmtree(state_dir, ignore_errors=True)


def last_fault_began_at(state_dir: Path) -> float | None:
    """``began_at`` of the last entry of the platform's fault journal (docs/drills.md),
    or ``None`` when the journal or the field is missing."""
    try:
        lines = (state_dir / FAULT_JOURNAL).read_text(encoding="utf-8").splitlines()
        began = json.loads(lines[-1]).get("began_at") if lines else None
    except (OSError, ValueError):
        return None
    return float(began) if isinstance(began, int | float) else None


def _operator(directory: Path) -> str | None:
    """The platform's operator token, None when there is none (a platform that is not up
    yet: the controller then refuses, and says so)."""
    try:
        return read_token(directory, Role.OPERATOR)
    except CredentialsError:
        return None


def _approvers(directory: Path) -> list[str]:
    """One token per approver of the platform (the first listed for each), in file order."""
    path = directory / FILES[Role.APPROVER]
    try:
        listed = parse_approvers(path.read_text(encoding="utf-8"), str(path))
    except (OSError, CredentialsError):
        return []
    first: dict[str, str] = {}
    for name, token in listed:
        first.setdefault(name, token)
    return list(first.values())
