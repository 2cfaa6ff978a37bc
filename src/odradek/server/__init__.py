"""The asyncio network layer and the Broker object that wires everything together."""
