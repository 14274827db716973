"""FastAPI dependencies the kit's own routers share (dead letters, the audit log)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request


async def _runtime(request: Request) -> Any:
    """`async`: FastAPI runs a plain `def` dependency in a worker thread."""
    return request.app.state.runtime


# The service's `ServiceRuntime` (typed Any: `cutover_kit.runtime` imports the routers' modules).
RuntimeOf = Annotated[Any, Depends(_runtime)]
