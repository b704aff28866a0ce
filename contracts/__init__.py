"""What the data is and what may be shared: contracts, classifications, agreements."""
