"""Accounts' database tables and the repository that reads and writes them."""
