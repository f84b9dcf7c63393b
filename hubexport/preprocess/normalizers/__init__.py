"""Text normalization stages that run inside the graph."""
