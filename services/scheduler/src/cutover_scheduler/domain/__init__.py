"""Scheduled-event rules, free of any framework."""
