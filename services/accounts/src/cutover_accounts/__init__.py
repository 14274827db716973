"""Cutover accounts: accounts, their statuses and types, disconnects, reactivation and archive."""
