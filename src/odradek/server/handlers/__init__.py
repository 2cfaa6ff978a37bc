"""One module per API family. A handler is ``(broker, ctx, request) -> response``: it may
return a kio response entity, an awaitable of one (long polls), or None (no response).
``broker`` is typed with the module's Protocol of what it reads (``ProduceCollaborators``,
...; shared ones in ``server/collaborators.py``), never ``BrokerServer``: the dispatcher
passes the broker, and mypy proves it satisfies each Protocol there."""
