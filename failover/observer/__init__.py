"""Observers: one per site, probing every unit instance and the other sites (docs/design.md §3.4).

An observer never decides anything. Each round it probes, counts consecutive failed
rounds per target (:mod:`failover.observer.counters`) and publishes an
:class:`~failover.snapshot.ObserverReport` to ``observers/<site>`` under a TTL lease
(:mod:`failover.observer.publisher`). The controller's quorum rules read those reports.
"""
