"""`Idempotency-Key` on POSTs that create or act: a retry with the same key gets the first answer.

The key is claimed by inserting its row in the same transaction as the action, and the answer is
stored in that transaction too. A concurrent request with the same key waits on the row's primary key
until the first commits, then replays its answer; if the first failed and rolled back, the key is
free again and the retry runs the action. The same key with another body is a 422.

A route takes the `Idempotency` dependency and runs its action through it: the key's namespace is
the actor, the method and the request's path (`POST /accounts/7/debits`), so no route names its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cutover_kit import context
from cutover_kit.db import UnitOfWork
from cutover_kit.errors import Unprocessable
from cutover_kit.tables import idempotency_keys

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key: the same key returns the first answer",
    ),
]


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency-key-reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was used with a different request body.", key=key
        )


async def idempotent(
    uow: UnitOfWork,
    key: str | None,
    *,
    scope: str,
    request_body: Any,
    status_code: int,
    action: Callable[[], Awaitable[BaseModel]],
) -> BaseModel | JSONResponse:
    """Run `action` once per (actor, scope, key); replay its answer to every retry."""
    if key is None:
        return await action()
    scope = f"{context.actor.get()}:{scope}"
    digest = hashlib.sha256(
        json.dumps(jsonable_encoder(request_body), sort_keys=True).encode()
    ).hexdigest()
    async with uow:
        claimed = (
            await uow.session.execute(
                pg_insert(idempotency_keys)
                .values(scope=scope, key=key, request_hash=digest)
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            )
        ).first()
        if claimed is None:
            first = (
                await uow.session.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                    )
                )
            ).one()
            if first.request_hash != digest:
                raise IdempotencyKeyReused(key)
            return JSONResponse(first.response, status_code=first.status_code)
        result = await action()
        await uow.session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
            .values(status_code=status_code, response=jsonable_encoder(result))
        )
        await uow.commit()
        return result


class IdempotentRequest:
    """This request's Idempotency-Key (if any) and the namespace derived from its route."""

    def __init__(self, key: str | None, scope: str) -> None:
        self.key = key
        self.scope = scope

    async def run(
        self,
        uow: UnitOfWork,
        request_body: Any,
        status_code: int,
        action: Callable[[], Awaitable[BaseModel]],
    ) -> BaseModel | JSONResponse:
        return await idempotent(
            uow,
            self.key,
            scope=self.scope,
            request_body=request_body,
            status_code=status_code,
            action=action,
        )


async def _idempotent_request(request: Request, key: IdempotencyKey = None) -> IdempotentRequest:
    return IdempotentRequest(key, f"{request.method} {request.url.path}")


Idempotency = Annotated[IdempotentRequest, Depends(_idempotent_request)]
