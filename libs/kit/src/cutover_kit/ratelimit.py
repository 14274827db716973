"""Rate limits per actor and service: past its limit a caller gets a 429 with `Retry-After`.

A sliding window of one minute per (service, actor), counted in the process's memory (the `limits`
library's sliding window counter: this minute's count plus the last minute's, weighted by how much of
it the window still covers). Two counters per actor, whatever its limit: the exact moving window
kept a timestamp per request (up to the limit: 120,000 for `make up`'s operator), inserted each at
the head of a list, and expired them by a bisect in a worker thread.

With several replicas or workers behind one address, each counts on its own, so a caller spread
evenly over N replicas gets up to N times the limit; a deployment that needs one shared count points
`CUTOVER_RATE_LIMIT_STORAGE` at a store the replicas share (`redis://…`, any storage `limits`
supports). Service identities and load generators get their own, higher limits by configuration
(`CUTOVER_RATE_LIMITS=name=per_minute,…`), so a benchmark or a bulk run is not throttled by a
default meant for people.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from cutover_kit import context
from cutover_kit.errors import DomainError


class RateLimited(DomainError):
    status = 429
    code = "rate-limited"

    def __init__(self, actor: str, per_minute: int, retry_after: int) -> None:
        super().__init__(
            f"{actor} made more than {per_minute} requests in a minute to this service; retry in"
            f" {retry_after} s.",
            actor=actor,
            limit_per_minute=per_minute,
        )
        self.retry_after_seconds = retry_after


class RateLimits:
    def __init__(
        self, service: str, per_minute: int, overrides: dict[str, int], storage: str
    ) -> None:
        self.service = service
        self.default = RateLimitItemPerMinute(per_minute)
        self.overrides = {actor: RateLimitItemPerMinute(n) for actor, n in overrides.items()}
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage))

    async def hit(self, actor: str) -> None:
        """Count one request of `actor`; RateLimited when it is one too many."""
        item = self.overrides.get(actor, self.default)
        if await self.limiter.hit(item, self.service, actor):
            return
        stats = await self.limiter.get_window_stats(item, self.service, actor)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(actor, item.amount, retry_after)


def parse_overrides(text: str) -> dict[str, int]:
    """`name=per_minute,name2=per_minute` → {name: per_minute}; a bad entry stops the service."""
    overrides = {}
    for entry in filter(None, (item.strip() for item in text.split(","))):
        actor, _, amount = entry.partition("=")
        if not actor or not amount.isdigit() or int(amount) < 1:
            raise ValueError(f"CUTOVER_RATE_LIMITS: {entry!r} is not name=requests_per_minute")
        overrides[actor] = int(amount)
    return overrides


async def enforce_rate_limit(request: Request) -> None:
    """After authentication: count the request against its actor's limit."""
    await request.app.state.runtime.rate_limits.hit(context.actor.get())
