"""Writers of supplier output formats: frame in, bytes and row counts out."""
