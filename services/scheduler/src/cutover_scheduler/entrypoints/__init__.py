"""How the world reaches the scheduler: HTTP routes and Kafka consumers."""
