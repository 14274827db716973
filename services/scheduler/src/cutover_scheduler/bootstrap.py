"""The composition root: the one place where the scheduler's parts are wired together."""

from __future__ import annotations

from fastapi import FastAPI

from cutover_kit.http import build_app
from cutover_kit.runtime import ServiceRuntime
from cutover_kit.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = ServiceRuntime(settings or Settings(service="scheduler"))
    return build_app(
        runtime,
        title="Cutover scheduler",
        description="Scheduled events (scheduled disconnects), emitted never before their run_at.",
        routers=[],
    )
