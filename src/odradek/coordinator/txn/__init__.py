"""The transaction coordinator: transactional ids, their producer ids and epochs, the
partitions in each transaction, durable in ``__transaction_state``."""
