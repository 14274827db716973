"""How the world reaches billing: HTTP routes and Kafka consumers."""
