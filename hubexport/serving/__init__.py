"""Serving an export: TF Serving layout and warm-up, model cards, custom ops."""
