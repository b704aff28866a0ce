"""Prefect flows and tasks, the CLI and settings: the only package that imports Prefect."""
