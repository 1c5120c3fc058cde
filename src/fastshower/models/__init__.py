"""Generative models: one module per family, shared blocks in ``layers``."""
