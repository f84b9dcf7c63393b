"""Helpers shared by the test modules: text corpora and asset builders."""
