"""How the world reaches accounts: HTTP routes and Kafka consumers."""
