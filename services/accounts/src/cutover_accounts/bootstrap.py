"""The composition root: the one place where accounts' parts are wired together."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from cutover_accounts.adapters.peers import Peers
from cutover_accounts.entrypoints import consumers, http, monitors
from cutover_accounts.service_layer import disconnects
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_kit.group_commit import GroupCommit
from cutover_kit.http import build_app
from cutover_kit.runtime import ServiceRuntime
from cutover_kit.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or Settings(service="accounts"), unit_of_work=AccountsUnitOfWork
    )
    settings = runtime.settings
    runtime.provide(
        "peers",
        Peers(
            billing_url=settings.billing_url,
            addresses_url=settings.addresses_url,
            scheduler_url=settings.scheduler_url,
            auth=runtime.service_auth,
        ),
    )
    # Disconnect requests arriving together start in one transaction (`cutover_kit.group_commit`).
    starts = runtime.provide(
        "disconnect_starts",
        GroupCommit(
            runtime.database,
            partial(
                disconnects.start_disconnects,
                step_timeout=timedelta(seconds=settings.disconnect_step_timeout_seconds),
            ),
        ),
    )
    runtime.add_task("disconnect-group-commit", starts.run)
    consumers.register(runtime)
    runtime.add_task("stalled-disconnects", monitors.stalled_disconnects(runtime))
    return build_app(
        runtime,
        title="Cutover accounts",
        description="Accounts, their statuses and types, disconnects, reactivation and archive.",
        routers=http.routers,
    )
