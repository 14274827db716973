"""The account rules, free of any framework: what may happen to an account, and when."""
