"""What went where: the lineage store, without pupil values."""
