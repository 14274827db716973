"""The accounts HTTP API, one module per feature as in `service_layer/`. Routes translate HTTP to use
cases and back; no rule lives here."""

from fastapi import APIRouter

from cutover_accounts.entrypoints.http import accounts, catalog, disconnects, lifecycle, report

router = APIRouter()
for feature in (catalog, accounts, lifecycle, disconnects, report):
    router.include_router(feature.router)
