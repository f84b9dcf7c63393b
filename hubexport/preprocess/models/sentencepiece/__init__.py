"""SentencePiece models in the graph: the model file, unigram and BPE encoders and their caches."""
