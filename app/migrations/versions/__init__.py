"""Revisions of the unit database, oldest first by id (a package so wheels carry them)."""
