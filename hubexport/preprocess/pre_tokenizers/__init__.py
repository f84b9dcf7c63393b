"""Pre-tokenizers: split normalized text into words inside the graph."""
