"""Coordinators: producer id allocation, the classic group coordinator (``group/``) and the
transaction coordinator (``txn/``), all sans-IO."""
