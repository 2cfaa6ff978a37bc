"""Coordinators: producer id allocation (and, later, groups and transactions)."""
