"""Cutover\x27s operator console."""
