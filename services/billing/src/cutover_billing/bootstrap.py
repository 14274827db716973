"""The composition root: the one place where billing's parts are wired together."""

from __future__ import annotations

from fastapi import FastAPI

from cutover_billing.entrypoints import consumers, http
from cutover_billing.service_layer.unit_of_work import BillingUnitOfWork
from cutover_kit.directory import AccountsDirectory
from cutover_kit.http import build_app
from cutover_kit.runtime import ServiceRuntime
from cutover_kit.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or Settings(service="billing"), unit_of_work=BillingUnitOfWork
    )
    runtime.provide(
        "accounts_directory", AccountsDirectory(runtime.settings.accounts_url, runtime.service_auth)
    )
    consumers.register(runtime)
    return build_app(
        runtime,
        title="Cutover billing",
        description="Debits, invoices with gapless numbers, and the final invoice of every disconnect.",
        routers=[http.router],
    )
