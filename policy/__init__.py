"""Pure functions that decide, per agreement, which pupils and fields pass."""
