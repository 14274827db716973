"""The command line of every service: `python -m cutover_<service> [serve|migrate]`."""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from cutover_kit.logs import configure_logging
from cutover_kit.migrations import upgrade
from cutover_kit.settings import Settings

SERVICE_VARIABLE = "CUTOVER_SERVICE"


def worker_app() -> FastAPI:
    """The app of one worker process of a service run with <SERVICE>_WORKERS > 1."""
    service = os.environ[SERVICE_VARIABLE]
    settings = Settings(service=service)
    configure_logging(service, settings.log_level)
    return importlib.import_module(f"cutover_{service}.bootstrap").create_app(settings)


def main(service: str, create_app: Callable[[Settings], FastAPI], migrations_dir: Path) -> None:
    parser = argparse.ArgumentParser(prog=f"cutover-{service}")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    arguments = parser.parse_args()
    settings = Settings(service=service)
    configure_logging(service, settings.log_level)
    if arguments.command == "migrate":
        upgrade(migrations_dir, settings.database_url)
        return
    if settings.workers > 1:
        # uvicorn starts each worker process from an import string; the service name travels in
        # the environment the workers inherit.
        os.environ[SERVICE_VARIABLE] = service
        app: FastAPI | str = f"{__name__}:worker_app"
    else:
        app = create_app(settings)
    uvicorn.run(
        app,
        factory=settings.workers > 1,
        workers=settings.workers,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
