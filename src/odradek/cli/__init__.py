"""The ``odradek`` command line."""
