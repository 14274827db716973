"""The command line of every service: `python -m cutover_<service> [serve|migrate]`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from cutover_kit.logs import configure_logging
from cutover_kit.migrations import upgrade
from cutover_kit.settings import Settings


def main(service: str, create_app: Callable[[Settings], FastAPI], migrations_dir: Path) -> None:
    parser = argparse.ArgumentParser(prog=f"cutover-{service}")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    arguments = parser.parse_args()
    settings = Settings(service=service)
    configure_logging(service, settings.log_level)
    if arguments.command == "migrate":
        upgrade(migrations_dir, settings.database_url)
        return
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
