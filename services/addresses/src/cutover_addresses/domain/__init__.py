"""Serviceable-address rules, free of any framework."""
