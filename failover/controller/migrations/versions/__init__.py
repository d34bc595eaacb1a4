"""Revisions of the records store, oldest first by id (a package so wheels carry them)."""
