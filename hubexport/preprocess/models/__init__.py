"""Tokenization models (BPE, SentencePiece): words or texts to ids inside the graph."""
