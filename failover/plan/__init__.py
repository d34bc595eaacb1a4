"""The one place that decides: ``decide(snapshot) -> Decision``. Pure: no I/O, no clock.

Everything a controller cycle acts on is decided here, from one frozen
:class:`~failover.snapshot.Snapshot` that also carries what the controller remembers
between cycles (``lapsed_cycles``). Site verdicts are computed once and handed to the
executor inside the :class:`Decision`. The rules and their sentences are told in
``docs/controller.md``; the modules:

- :mod:`failover.plan.outcomes` — what a cycle decided about each unit, and the sentence;
- :mod:`failover.plan.context` — the snapshot plus its verdicts, shared by the rules;
- :mod:`failover.plan.inflight` — finishing or closing promotions a crash left behind;
- :mod:`failover.plan.repair` — stale primaries, and primaries that stopped writing;
- :mod:`failover.plan.promotion` — which copy may become the primary, and when;
- :mod:`failover.plan.decide` — the order in which the rules run per unit.

An import-linter contract keeps this package free of adapters (pyproject.toml).
"""

from failover.plan.decide import decide
from failover.plan.outcomes import Decision, OutcomeKind, UnitOutcome

__all__ = ["Decision", "OutcomeKind", "UnitOutcome", "decide"]
