"""Which site served each unit as primary, as clients saw it: split brain and failovers.

Read from fresh postings (201 answers, whose ``site`` and ``epoch`` are the ones that
served the write) and, for failovers, from the controllers' ``promoted`` events too. Pure.

Definitions (documented for auditors in ``docs/drills.md``):

- **split brain** — two fresh postings (201) for the same unit and epoch from different
  sites; or *overlapping epochs*: a posting at epoch e answered after the first posting
  at a higher epoch for the same unit. 200 replays are ignored: they repeat the original
  posting's site and epoch.
- **failovers of a unit** — max of the epoch increase seen in its 201 answers and the
  number of ``promoted`` controller events for it from the drill's start on (a platform
  attached to, or one whose controllers settled its units while it started, has
  promotions of its own before the drill; they are not the drill's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from drills.attempt_order import by_unit, sent_order
from drills.attempts import Attempt
from drills.controller_event import PROMOTED, ControllerEvent


@dataclass(frozen=True, slots=True)
class SplitBrainFinding:
    """Evidence of two writable primaries: ``kind`` names which form."""

    kind: Literal["same-epoch-two-sites", "overlapping-epochs"]
    unit: str
    epochs: tuple[int, ...]
    sites: tuple[str, ...]
    at: float
    detail: str


def split_brain(attempts: Iterable[Attempt]) -> tuple[SplitBrainFinding, ...]:
    """Both forms of split brain, from fresh postings (201) only; sorted by unit, time."""
    findings: list[SplitBrainFinding] = []
    for unit, posted in sorted(by_unit(a for a in attempts if a.posted).items()):
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
            first = min(acks, key=sent_order)
            second = min((a for a in acks if a.site != first.site), key=sent_order)
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
    for a in sorted(posted, key=lambda a: (a.answered_at, *sent_order(a))):
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
            stale = min(late, key=sent_order)
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
        if event.kind == PROMOTED and event.unit is not None and event.at >= 0:
            promoted[event.unit] += 1
    counts = {
        unit: max(max(seen[unit], default=0) - min(seen[unit], default=0), promoted[unit])
        for unit in set(seen) | set(promoted)
    }
    return {unit: n for unit, n in sorted(counts.items()) if n > 0}


def _epoch(attempt: Attempt) -> int:
    # Only called on acknowledged attempts, which always carry an epoch.
    return attempt.epoch if attempt.epoch is not None else -1
