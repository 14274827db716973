"""Cutover addresses: serviceable addresses, the account each serves, and every attach and release."""
