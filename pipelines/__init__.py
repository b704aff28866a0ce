"""Flows, tasks, CLI and settings: the only package importing Prefect; may import all others."""
