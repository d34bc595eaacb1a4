"""Measurements of a drill, computed only from what clients saw (docs/design.md §1, issue 5).

Inputs: the client :class:`~drills.attempts.Attempt` records, the
:class:`~drills.attempts.ReadBack` of every acknowledged write, the timeline of
:class:`~drills.executed.ExecutedAction` (when each fault and operator action really
ran), and — for the detection time and as a second source of failover counts only —
:class:`~drills.controller_event.ControllerEvent`.
Pure: the same input always gives the same :class:`Measurements`.

Definitions (documented for auditors in ``docs/drills.md``):

- **fault time** — start of the first *fault* action of the method (``site-down``,
  ``site-hang``, ``partition``, ``slow``, ``unit-crash``). Repairs and operator moves
  (switchover, failback) do not start the clock. No fault → nothing is affected.
- **RTO of a unit** — look at the unit's attempts answered at or after the fault time,
  in the order they were *sent*. The unit is *affected* if one of them failed (any
  non-2xx, timeout or connection error). Its *final run* is the attempts sent after the
  last failure; they all succeeded. RTO = earliest answer in the final run − fault
  time. A unit with no failure is not affected and has no RTO entry; an affected unit
  whose last attempt failed never recovered: RTO ``None``, and the drill fails.
- **drill RTO** — max over affected units; ``0.0`` when no unit was affected; ``None``
  when some unit never recovered.
- **failed stretch** — a maximal run of a unit's failed attempts, in the order they were
  sent. Its *recovery* is the earliest answer among the successes sent after it — the
  same "recovered" as the RTO's: the RTO is the last stretch after the fault, counted
  from the fault time. No success sent after it: never recovered.
- **write interruption of a unit** — its longest failed stretch over the whole drill,
  from the *send* time of the stretch's first attempt to its recovery: the longest time
  the load was sending to the unit without a write being acknowledged. ``0.0`` for a
  unit whose writes never failed; ``None`` when its last stretch never recovered. Every
  unit the load sent to has an entry. A write that is slow but succeeds is latency, not
  interruption (the ``p99-latency`` probe judges it); one that outlasts the client's
  timeout is a failure.
- **longest interruption** — max over units (``None`` if one never recovered);
  **survivors' interruption** — the same over the units that did not move (no failover,
  see below); ``0.0`` when there is none.
- **RPO** — acknowledged (2xx at least once) writes whose read-back is not found, found
  with different content, or missing (never read back counts as lost).
- **double posting** — a write seen under two transaction ids (two acknowledgements with
  different ids, or a read-back with an id other than the acknowledged one).
- **split brain** — two fresh postings (201) for the same unit and epoch from different
  sites; or *overlapping epochs*: a posting at epoch e answered after the first posting
  at a higher epoch for the same unit. 200 replays are ignored: they repeat the original
  posting's site and epoch.
- **failovers of a unit** — max of the epoch increase seen in its 201 answers and the
  number of ``promoted`` controller events for it. ``false_failovers`` = all failovers
  when the drill expects none, else 0.
- **detection** — first ``site-down`` controller event at or after the fault time, minus
  the fault time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Literal

from drills.attempts import Attempt, ReadBack, ReadBackResult, WriteKey
from drills.controller_event import PROMOTED, SITE_DOWN, ControllerEvent
from drills.executed import ExecutedAction
from drills.steps import PLANNED_ACTIONS


@dataclass(frozen=True, slots=True)
class SplitBrainFinding:
    """Evidence of two writable primaries: ``kind`` names which form."""

    kind: Literal["same-epoch-two-sites", "overlapping-epochs"]
    unit: str
    epochs: tuple[int, ...]
    sites: tuple[str, ...]
    at: float
    detail: str


@dataclass(frozen=True, slots=True)
class FailedStretch:
    """A maximal run of one unit's failed attempts in sent order (module docstring).

    ``started_at`` is the send time of its first attempt; ``recovered_at`` the earliest
    answer among the successes sent after it, ``None`` if none was."""

    started_at: float
    recovered_at: float | None

    @property
    def seconds(self) -> float | None:
        """How long the unit acknowledged nothing; ``None`` = never recovered."""
        return None if self.recovered_at is None else self.recovered_at - self.started_at


@dataclass(frozen=True, slots=True)
class SecondStats:
    """Attempts *sent* during second ``[second, second + 1)`` of the drill."""

    second: int
    total: int
    ok: int
    p99_ms: float | None

    @property
    def success_rate(self) -> float | None:
        return self.ok / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Requests:
    """Every HTTP attempt (retries included): acknowledged (2xx) or failed."""

    total: int
    ok: int
    failed: int


@dataclass(frozen=True)
class Measurements:
    """Everything a report states as measured. See the module docstring for definitions."""

    fault_at: float | None
    detection_seconds: float | None
    rto_seconds: float | None
    rto_by_unit: Mapping[str, float | None]
    rpo_lost_acknowledged: int
    lost_keys: tuple[WriteKey, ...]
    changed_keys: tuple[WriteKey, ...]
    double_posted_keys: tuple[WriteKey, ...]
    requests: Requests
    split_brain_findings: tuple[SplitBrainFinding, ...]
    failovers_by_unit: Mapping[str, int]
    false_failovers: int
    errors_outside_drain: int
    series: tuple[SecondStats, ...]
    interruption_by_unit: Mapping[str, float | None]

    @property
    def split_brain(self) -> bool:
        return bool(self.split_brain_findings)

    @property
    def failovers(self) -> int:
        return sum(self.failovers_by_unit.values())

    @property
    def unrecovered_units(self) -> tuple[str, ...]:
        return tuple(u for u, rto in self.rto_by_unit.items() if rto is None)

    @property
    def units_moved(self) -> tuple[str, ...]:
        return tuple(u for u, n in self.failovers_by_unit.items() if n > 0)

    @property
    def longest_interruption_seconds(self) -> float | None:
        """The longest write interruption of any unit (``None``: one never recovered)."""
        return longest(self.interruption_by_unit.values())

    @property
    def survivors_interruption_seconds(self) -> float | None:
        """The longest write interruption of a unit that did not move; ``0.0`` when every
        unit moved (or none was sent to); ``None`` when a survivor never recovered."""
        moved = set(self.units_moved)
        return longest(v for u, v in self.interruption_by_unit.items() if u not in moved)


def measure(
    attempts: Sequence[Attempt],
    read_backs: Sequence[ReadBack],
    actions: Sequence[ExecutedAction],
    events: Sequence[ControllerEvent] = (),
    *,
    expects_no_failover: bool = False,
    drain_window_seconds: float = 0.0,
) -> Measurements:
    """Measure a drill. ``expects_no_failover`` and ``drain_window_seconds`` come from the
    spec's ``expect`` (:attr:`drills.spec.Expect.expects_no_failover`)."""
    fault_at = first_fault_at(actions)
    rto_by_unit = rto_per_unit(attempts, fault_at)
    lost, changed = lost_acknowledged(attempts, read_backs)
    failovers_by_unit = failovers_per_unit(attempts, events)
    return Measurements(
        fault_at=fault_at,
        detection_seconds=detection_seconds(events, fault_at),
        rto_seconds=drill_rto(rto_by_unit),
        rto_by_unit=rto_by_unit,
        rpo_lost_acknowledged=len(lost) + len(changed),
        lost_keys=lost,
        changed_keys=changed,
        double_posted_keys=double_posted(attempts, read_backs),
        requests=count_requests(attempts),
        split_brain_findings=split_brain(attempts),
        failovers_by_unit=failovers_by_unit,
        false_failovers=sum(failovers_by_unit.values()) if expects_no_failover else 0,
        errors_outside_drain=errors_outside_drain(attempts, actions, drain_window_seconds),
        series=per_second(attempts),
        interruption_by_unit=interruption_per_unit(attempts),
    )


def first_fault_at(actions: Iterable[ExecutedAction]) -> float | None:
    """When the first fault action of the method took effect, or ``None`` without one."""
    starts = [a.effective_at for a in actions if a.is_fault and a.phase == "method"]
    return min(starts) if starts else None


# --- RTO --------------------------------------------------------------------------------


def _sent_order(attempt: Attempt) -> tuple[float, float, str, str, int]:
    # Total order so that ties never depend on input order (deterministic reports).
    return (
        attempt.sent_at,
        attempt.answered_at,
        attempt.customer_id,
        attempt.idempotency_key,
        attempt.attempt,
    )


def failed_stretches(attempts: Iterable[Attempt]) -> list[FailedStretch]:
    """One unit's failed stretches, in sent order; see the module docstring."""
    runs = [list(run) for _, run in groupby(sorted(attempts, key=_sent_order), key=_ok)]
    stretches = []
    recovered_at: float | None = None  # earliest answer of a success sent after the run
    for run in reversed(runs):
        if run[0].ok:
            earliest = min(a.answered_at for a in run)
            recovered_at = earliest if recovered_at is None else min(recovered_at, earliest)
        else:
            stretches.append(FailedStretch(started_at=run[0].sent_at, recovered_at=recovered_at))
    return stretches[::-1]


def unit_rto(attempts: Iterable[Attempt], fault_at: float) -> tuple[bool, float | None]:
    """``(affected, rto)`` of one unit's attempts: its last failed stretch among the
    attempts answered at or after ``fault_at``, counted from ``fault_at``."""
    stretches = failed_stretches(a for a in attempts if a.answered_at >= fault_at)
    if not stretches:
        return False, None
    recovered_at = stretches[-1].recovered_at
    if recovered_at is None:
        return True, None
    return True, max(0.0, recovered_at - fault_at)


def rto_per_unit(attempts: Iterable[Attempt], fault_at: float | None) -> dict[str, float | None]:
    """RTO of every *affected* unit, sorted by unit name; empty without a fault."""
    if fault_at is None:
        return {}
    result: dict[str, float | None] = {}
    for unit, unit_attempts in sorted(_by_unit(attempts).items()):
        affected, rto = unit_rto(unit_attempts, fault_at)
        if affected:
            result[unit] = rto
    return result


def drill_rto(rto_by_unit: Mapping[str, float | None]) -> float | None:
    """Max over affected units; ``None`` if one never recovered; 0 if none affected."""
    return longest(rto_by_unit.values())


def longest(values: Iterable[float | None]) -> float | None:
    """The max of per-unit durations: ``None`` if one is ``None`` (a unit that never
    recovered), ``0.0`` when there are none."""
    listed = list(values)
    if any(v is None for v in listed):
        return None
    return max((v for v in listed if v is not None), default=0.0)


# --- write interruption -----------------------------------------------------------------


def unit_interruption(attempts: Iterable[Attempt]) -> float | None:
    """One unit's longest failed stretch in seconds: ``0.0`` if none failed, ``None`` if
    its last stretch never recovered. Over the whole drill, fault or no fault."""
    return longest(stretch.seconds for stretch in failed_stretches(attempts))


def interruption_per_unit(attempts: Iterable[Attempt]) -> dict[str, float | None]:
    """Write interruption of every unit the load sent to, sorted by unit name."""
    grouped = sorted(_by_unit(attempts).items())
    return {unit: unit_interruption(unit_attempts) for unit, unit_attempts in grouped}


# --- RPO and double posting -------------------------------------------------------------


def lost_acknowledged(
    attempts: Iterable[Attempt], read_backs: Iterable[ReadBack]
) -> tuple[tuple[WriteKey, ...], tuple[WriteKey, ...]]:
    """``(lost, changed)``: acknowledged writes not found (or never read back), and those
    read back with different content. Both sorted."""
    acknowledged = {a.key for a in attempts if a.ok}
    results: dict[WriteKey, set[ReadBackResult]] = defaultdict(set)
    for rb in read_backs:
        results[rb.key].add(rb.result)
    lost = {k for k in acknowledged if not results[k] or ReadBackResult.NOT_FOUND in results[k]}
    changed = {k for k in acknowledged - lost if ReadBackResult.DIFFERENT_CONTENT in results[k]}
    return tuple(sorted(lost)), tuple(sorted(changed))


def double_posted(
    attempts: Iterable[Attempt], read_backs: Iterable[ReadBack]
) -> tuple[WriteKey, ...]:
    """Writes seen under more than one transaction id, sorted."""
    ids: dict[WriteKey, set[str]] = defaultdict(set)
    for a in attempts:
        if a.ok and a.transaction_id is not None:
            ids[a.key].add(a.transaction_id)
    for rb in read_backs:
        ids[rb.key].update(rb.transaction_ids)
    return tuple(sorted(k for k, seen in ids.items() if len(seen) > 1))


# --- split brain and failovers ----------------------------------------------------------


def split_brain(attempts: Iterable[Attempt]) -> tuple[SplitBrainFinding, ...]:
    """Both forms of split brain, from fresh postings (201) only; sorted by unit, time."""
    findings: list[SplitBrainFinding] = []
    for unit, posted in sorted(_by_unit(a for a in attempts if a.posted).items()):
        findings.extend(_same_epoch_two_sites(unit, posted))
        findings.extend(_overlapping_epochs(unit, posted))
    return tuple(sorted(findings, key=lambda f: (f.unit, f.at, f.kind, f.epochs)))


def _same_epoch_two_sites(unit: str, posted: list[Attempt]) -> Iterable[SplitBrainFinding]:
    by_epoch: dict[int, list[Attempt]] = defaultdict(list)
    for a in posted:
        by_epoch[_epoch(a)].append(a)
    for epoch, acks in sorted(by_epoch.items()):
        sites = sorted({str(a.site) for a in acks})
        if len(sites) > 1:
            first = min(acks, key=_sent_order)
            second = min((a for a in acks if a.site != first.site), key=_sent_order)
            yield SplitBrainFinding(
                kind="same-epoch-two-sites",
                unit=unit,
                epochs=(epoch,),
                sites=tuple(sites),
                at=second.answered_at,
                detail=f"epoch {epoch} acknowledged by {' and '.join(sites)}",
            )


def _overlapping_epochs(unit: str, posted: list[Attempt]) -> Iterable[SplitBrainFinding]:
    first_ack: dict[int, Attempt] = {}
    for a in sorted(posted, key=lambda a: (a.answered_at, *_sent_order(a))):
        first_ack.setdefault(_epoch(a), a)
    epochs = sorted(first_ack)
    for i, epoch in enumerate(epochs):
        higher = [first_ack[e] for e in epochs[i + 1 :]]
        if not higher:
            continue
        newer = min(higher, key=lambda a: (a.answered_at, _epoch(a)))
        late = [
            a for a in posted if _epoch(a) == epoch and a.answered_at > newer.answered_at
        ]  # fmt: skip
        if late:
            stale = min(late, key=_sent_order)
            yield SplitBrainFinding(
                kind="overlapping-epochs",
                unit=unit,
                epochs=(epoch, _epoch(newer)),
                sites=tuple(sorted({str(stale.site), str(newer.site)})),
                at=stale.answered_at,
                detail=(
                    f"{len(late)} write(s) acknowledged at epoch {epoch} by {stale.site} "
                    f"after epoch {_epoch(newer)} was serving at {newer.site} "
                    f"(from {newer.answered_at:.3f} s)"
                ),
            )


def failovers_per_unit(
    attempts: Iterable[Attempt], events: Iterable[ControllerEvent]
) -> dict[str, int]:
    """Promotions per unit (units with at least one), sorted by unit name."""
    seen: dict[str, list[int]] = defaultdict(list)
    for a in attempts:
        if a.posted:
            seen[a.unit].append(_epoch(a))
    promoted: dict[str, int] = defaultdict(int)
    for event in events:
        if event.kind == PROMOTED and event.unit is not None:
            promoted[event.unit] += 1
    counts = {
        unit: max(max(seen[unit], default=0) - min(seen[unit], default=0), promoted[unit])
        for unit in set(seen) | set(promoted)
    }
    return {unit: n for unit, n in sorted(counts.items()) if n > 0}


def detection_seconds(events: Iterable[ControllerEvent], fault_at: float | None) -> float | None:
    """From the fault to the first ``site-down`` event at or after it."""
    if fault_at is None:
        return None
    downs = [e.at for e in events if e.kind == SITE_DOWN and e.at >= fault_at]
    return min(downs) - fault_at if downs else None


# --- counts and series ------------------------------------------------------------------


def count_requests(attempts: Sequence[Attempt]) -> Requests:
    ok = sum(1 for a in attempts if a.ok)
    return Requests(total=len(attempts), ok=ok, failed=len(attempts) - ok)


def errors_outside_drain(
    attempts: Iterable[Attempt], actions: Iterable[ExecutedAction], drain_window_seconds: float
) -> int:
    """Failed attempts sent outside every ``[start, end + drain]`` of a planned move."""
    windows = [
        (a.started_at, a.finished_at + drain_window_seconds)
        for a in actions
        if a.action in PLANNED_ACTIONS
    ]
    return sum(
        1
        for a in attempts
        if not a.ok and not any(lo <= a.sent_at <= hi for lo, hi in windows)
    )  # fmt: skip


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation, so it is a value that was observed)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def per_second(attempts: Iterable[Attempt]) -> tuple[SecondStats, ...]:
    """Success rate and p99 latency (of successes) per second of sending, gaps included."""
    buckets: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        buckets[max(0, math.floor(a.sent_at))].append(a)
    if not buckets:
        return ()
    return tuple(
        SecondStats(
            second=s,
            total=len(buckets[s]),
            ok=sum(1 for a in buckets[s] if a.ok),
            p99_ms=percentile([a.latency_ms for a in buckets[s] if a.ok], 99),
        )
        for s in range(max(buckets) + 1)
    )


def window(attempts: Iterable[Attempt], start: float, end: float) -> list[Attempt]:
    """Attempts sent in ``[start, end)`` — the basis of steady-state probes and guards."""
    return [a for a in attempts if start <= a.sent_at < end]


def units_not_serving(
    attempts: Iterable[Attempt], units: Iterable[str], start: float, end: float
) -> list[str]:
    """The units whose latest evidence at ``end`` is that they do not serve, sorted.

    A unit is judged on its attempts sent in ``[start, end)``: serving if one of them was
    acknowledged. A unit the load happened not to touch in that window (a few customers
    per unit at a low rate leave gaps of seconds) is judged on its last attempt before
    ``start`` instead; a unit never acknowledged at all is not serving (no evidence)."""
    in_window: dict[str, bool] = {}
    last_before: dict[str, Attempt] = {}
    for attempt in attempts:
        if start <= attempt.sent_at < end:
            in_window[attempt.unit] = in_window.get(attempt.unit, False) or attempt.ok
        elif attempt.sent_at < start:
            previous = last_before.get(attempt.unit)
            if previous is None or attempt.sent_at >= previous.sent_at:
                last_before[attempt.unit] = attempt
    missing = []
    for unit in units:
        if unit in in_window:
            serving = in_window[unit]
        else:
            previous = last_before.get(unit)
            serving = previous is not None and previous.ok
        if not serving:
            missing.append(unit)
    return sorted(missing)


def error_rate(attempts: Sequence[Attempt]) -> float | None:
    """Share of failed attempts; ``None`` when there are none to judge."""
    if not attempts:
        return None
    return sum(1 for a in attempts if not a.ok) / len(attempts)


def _by_unit(attempts: Iterable[Attempt]) -> dict[str, list[Attempt]]:
    grouped: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        grouped[a.unit].append(a)
    return grouped


def _ok(attempt: Attempt) -> bool:
    return attempt.ok


def _epoch(attempt: Attempt) -> int:
    # Only called on acknowledged attempts, which always carry an epoch.
    return attempt.epoch if attempt.epoch is not None else -1
