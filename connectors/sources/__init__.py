"""Readers of school exports; each turns one export into raw string frames with provenance."""
