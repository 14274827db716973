"""The scheduler's tables."""
