"""The unit service: the card ledger of one unit in one site, with journal replication."""
