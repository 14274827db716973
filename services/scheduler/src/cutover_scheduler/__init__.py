"""Cutover scheduler: scheduled events, emitted when due by the database clock, never before."""
