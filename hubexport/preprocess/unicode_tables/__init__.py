"""Code point tables the tokenizers are built from; generated tables and the probe that regenerates them."""
