"""Billing's money rules, free of any framework."""
