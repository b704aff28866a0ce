"""Pure functions: which pupils and fields pass each agreement; may import contracts, connectors."""
