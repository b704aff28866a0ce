"""What the data is and what may be shared: contracts, agreements; may import connectors."""
