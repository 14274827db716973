"""Billing's tables, repository and the accounts directory (local copy + HTTP fallback)."""
