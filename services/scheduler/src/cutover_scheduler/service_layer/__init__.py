"""The scheduler's use cases: each one is one unit of work, committed once at its end."""
