"""What every Cutover service shares, and nothing that belongs to one service's domain.

`cutover_kit` (not `platform`, `logging` or `http`: the name shadows no standard-library module) holds
the settings, the database unit of work, the transactional outbox and its relay, the idempotent
consumer, problem details, auth, health and metrics, so the four services have one shape.
"""
