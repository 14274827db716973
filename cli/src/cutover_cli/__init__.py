"""cutover: the operator command line."""
