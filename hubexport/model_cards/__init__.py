"""Model cards (README.md) written into every export, and the facts they report."""
