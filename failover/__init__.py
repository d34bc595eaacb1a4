"""The orchestrator: topology, routing, router, observers, controller, DCS adapter, records.

Kept import-light: ``app`` imports ``failover.topology`` and must not drag the rest in.
"""
