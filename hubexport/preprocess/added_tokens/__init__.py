"""Added tokens: reading them from a tokenizer directory and splitting text on them inside the graph."""
