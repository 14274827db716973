"""Cutover billing: debits, invoices with gapless numbers, and one final invoice per disconnect."""
