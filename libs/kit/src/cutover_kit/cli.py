"""The command line of every service: `python -m cutover_<service> [serve|migrate]`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from cutover_kit import metrics
from cutover_kit.logs import configure_logging
from cutover_kit.migrations import upgrade
from cutover_kit.settings import Settings

SERVICE_VARIABLE = "CUTOVER_SERVICE"
log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain before its graceful shutdown (`CUTOVER_DRAIN_SECONDS` > 0).

    On the first SIGTERM (or Ctrl-C) /readyz answers 503 at once, so a proxy that health-checks it
    stops sending new requests, while the process goes on serving whatever still reaches it for
    the drain period. Then uvicorn's own shutdown runs: it stops accepting connections and
    finishes the requests in flight, and the app's lifespan stops the runtime: each consumer
    finishes and commits the batch it holds and leaves its group (FastStream's graceful timeout),
    the relay gives up its leadership, the producer flushes. A second signal skips the drain."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_seconds: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_seconds = drain_seconds
        self.drain_until: float | None = None
        self.drain_announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_seconds > 0 and self.drain_until is None and not self.should_exit:
            # A signal handler: set flags only; on_tick logs and ends the drain.
            self.drain_until = time.monotonic() + self.drain_seconds
            self.app.state.runtime.draining = True
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and not self.should_exit:
            if not self.drain_announced:
                self.drain_announced = True
                metrics.draining.set(1)
                log.info("draining: not ready, serving for %.1f s more", self.drain_seconds)
            if time.monotonic() >= self.drain_until:
                log.info("drained: stopping (in-flight requests and batches are finished)")
                self.should_exit = True
        return await super().on_tick(counter)


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
    options = {
        "host": settings.http_host,
        "port": settings.http_port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if isinstance(app, FastAPI):
        # One process: the drain applies (several workers are uvicorn's supervisor's to stop).
        server = DrainingServer(uvicorn.Config(app, **options), app, settings.drain_seconds)
        server.run()
        return
    uvicorn.run(app, factory=True, workers=settings.workers, **options)
