"""Failover drills: specs, load generator, runner, measurements and reports."""
