"""The composition root: the one place where addresses' parts are wired together."""

from __future__ import annotations

from fastapi import FastAPI

from cutover_addresses.entrypoints import consumers, http
from cutover_addresses.service_layer.unit_of_work import AddressesUnitOfWork
from cutover_kit.directory import AccountsDirectory
from cutover_kit.http import build_app
from cutover_kit.runtime import ServiceRuntime
from cutover_kit.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or Settings(service="addresses"), unit_of_work=AddressesUnitOfWork
    )
    runtime.provide(
        "accounts_directory", AccountsDirectory(runtime.settings.accounts_url, runtime.service_auth)
    )
    consumers.register(runtime)
    return build_app(
        runtime,
        title="Cutover addresses",
        description="Serviceable addresses, the account each one serves, and their history.",
        routers=[http.router],
    )
