"""Export plumbing shared by every SavedModel hubexport writes."""
