"""Supplier agreements as YAML files, one per supplier."""
