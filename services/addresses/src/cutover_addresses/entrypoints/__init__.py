"""How the world reaches addresses: HTTP routes and Kafka consumers."""
