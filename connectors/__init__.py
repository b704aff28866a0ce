"""Reading and writing at the edges: sources, output formats and drops; no policy."""
