"""The composition root: the one place where the scheduler's parts are wired together."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cutover_kit.directory import AccountsDirectory
from cutover_kit.http import build_app
from cutover_kit.relay import asyncpg_dsn
from cutover_kit.runtime import ServiceRuntime
from cutover_kit.settings import Settings
from cutover_scheduler.adapters.emitter import Emitter
from cutover_scheduler.entrypoints import consumers, http
from cutover_scheduler.service_layer.unit_of_work import SchedulerUnitOfWork


class EmitterSettings(BaseSettings):
    """`CUTOVER_SCHEDULER_*`: how the emitter batches, how long a claim may hang, how long it sleeps."""

    model_config = SettingsConfigDict(env_prefix="CUTOVER_SCHEDULER_", extra="ignore")

    batch_size: int = Field(default=5000, ge=1)
    lease_seconds: float = Field(default=10.0, gt=0)
    max_sleep_seconds: float = Field(default=1.0, gt=0)


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or Settings(service="scheduler"), unit_of_work=SchedulerUnitOfWork
    )
    runtime.provide(
        "accounts_directory", AccountsDirectory(runtime.settings.accounts_url, runtime.service_auth)
    )
    consumers.register(runtime)
    emitter_settings = EmitterSettings()

    async def emit() -> None:
        assert runtime.publisher is not None  # tasks start after the publisher
        await Emitter(
            asyncpg_dsn(runtime.database.url),
            runtime.publisher,
            batch_size=emitter_settings.batch_size,
            lease_seconds=emitter_settings.lease_seconds,
            max_sleep=emitter_settings.max_sleep_seconds,
        ).run()

    runtime.add_task("emitter", emit)
    return build_app(
        runtime,
        title="Cutover scheduler",
        description="Scheduled events (scheduled disconnects), emitted never before their run_at.",
        routers=[http.router],
    )
