"""Places a delivery is published to, atomically, with its manifest written last."""
