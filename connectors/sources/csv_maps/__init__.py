"""Column maps for CSV/Excel exports: one YAML file per export layout (package data)."""
