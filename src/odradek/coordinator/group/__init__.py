"""The classic group coordinator: membership, rebalances and committed offsets, durable in
``__consumer_offsets``."""
