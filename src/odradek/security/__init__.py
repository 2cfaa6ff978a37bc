"""Kafka's security model, sans-IO: listener security protocols, TLS contexts, SASL
authenticators (PLAIN, SCRAM), principals, ACLs and the authorizer. The server wires these
to connections; nothing here does network I/O or touches the broker."""
