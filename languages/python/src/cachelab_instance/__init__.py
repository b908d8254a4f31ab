"""The HTTP instance of the mixed cluster."""
