"""The router: the stateless front door (docs/design.md §5). Maps customer → bucket → unit, takes
the unit's primary site and epoch from the routing table (kept current by a watch), and
forwards to that unit instance."""
