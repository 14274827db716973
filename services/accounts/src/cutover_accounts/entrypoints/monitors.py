"""Accounts' background gauges: what an operator should be alerted to without asking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge

from cutover_accounts.service_layer import disconnects
from cutover_kit.runtime import ServiceRuntime

log = logging.getLogger(__name__)

STALLED_EVERY_SECONDS = 15.0

stalled = Gauge(
    "cutover_disconnects_stalled",
    "Pending disconnects past their deadline (a step has not answered): retry or abandon them",
)


def stalled_disconnects(runtime: ServiceRuntime) -> Callable[[], Awaitable[None]]:
    """A loop that counts stalled disconnects every few seconds (one indexed count)."""

    async def count_forever() -> None:
        while True:
            try:
                stalled.set(await disconnects.count_stalled(runtime.database.unit_of_work()))
            except Exception as error:  # noqa: BLE001 - a gauge never stops the service
                log.warning("could not count stalled disconnects: %r", error)
            await asyncio.sleep(STALLED_EVERY_SECONDS)

    return count_forever
