"""One module per API family. A handler is ``(broker, header, request) -> response``: it may
return a kio response entity, an awaitable of one (long polls), or None (no response)."""
