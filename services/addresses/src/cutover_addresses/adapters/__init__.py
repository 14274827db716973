"""Addresses' tables and repository."""
