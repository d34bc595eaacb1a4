"""The composition root: the ``watertight`` command line wires app, failover, drills, infra."""

__version__ = "0.1.0"
