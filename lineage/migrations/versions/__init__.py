"""One module per revision of the lineage schema, oldest first: 0001, 0002, ..."""
