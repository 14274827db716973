"""The accounts HTTP API, one module per feature as in `service_layer/`. Routes translate HTTP to use
cases and back; no rule lives here."""

from fastapi import APIRouter

from cutover_accounts.entrypoints.http import accounts, catalog, disconnects, lifecycle, report

# A list, not one router including the others: FastAPI 0.165 matches an included router's routes
# again at every level of inclusion, on every request.
routers: list[APIRouter] = [
    feature.router for feature in (catalog, accounts, lifecycle, disconnects, report)
]
