"""The controller: one per site, one leader by etcd lease (docs/controller.md §8–§12).

Layers, kopf-style: ``settings``/``main`` wire a process; ``leadership`` holds the leader
lease; ``state`` keeps the controller's own keys in etcd (replication marks, in-flight
operations, approvals, failover history, freeze); ``builder`` turns etcd (routes, leases,
the observers' reports) into a frozen :class:`~failover.snapshot.Snapshot`;
``failover.plan.decide`` decides (pure, the one place); ``executor``
carries actions out through ``units`` and ``state``; ``records`` is the audit trail
(SQLAlchemy); ``cycle`` ties one cycle together and returns its sentence; ``planned`` runs
switchovers; ``api`` serves HTTP. The observers are their own processes
(:mod:`failover.observer`).
"""
