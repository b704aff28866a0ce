"""Reading and writing at the edges: sources, formats and drops; imports no other Sluis package."""
