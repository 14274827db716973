"""`python -m cutover_console serve`: the console on CONSOLE_PORT (default 8080) of
CUTOVER_HTTP_HOST (default 127.0.0.1)."""

from __future__ import annotations

import os
import sys

import uvicorn

from cutover_console.app import build_app
from cutover_console.settings import DEFAULT_PORT, ConfigurationError


def main() -> None:
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: python -m cutover_console serve")
    try:
        app = build_app()
    except ConfigurationError as error:
        sys.exit(f"console: {error}")
    uvicorn.run(
        app,
        host=os.environ.get("CUTOVER_HTTP_HOST", "127.0.0.1"),
        port=int(os.environ.get("CONSOLE_PORT", DEFAULT_PORT)),
        log_level=os.environ.get("CUTOVER_LOG_LEVEL", "info").lower(),
    )


if __name__ == "__main__":
    main()
