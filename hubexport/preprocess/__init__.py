"""In-graph tokenizers and input packing for the preprocessor SavedModels."""
