"""Microsoft 365 (Graph) Excel and Forms connector (being written)."""
