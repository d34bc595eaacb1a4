"""Whether every acknowledged write survived, once, as written: RPO and double posting,
from the acknowledgements and the read-back of every acknowledged write. Pure.

Definitions (documented for auditors in ``docs/drills.md``):

- **RPO** — acknowledged (2xx at least once) writes whose read-back is not found, found
  with different content, or missing (never read back counts as lost).
- **double posting** — a write seen under two transaction ids (two acknowledgements with
  different ids, or a read-back with an id other than the acknowledged one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from drills.attempts import Attempt, ReadBack, ReadBackResult, WriteKey


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
