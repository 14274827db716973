"""The HTTP edge every service shares: auth, request ids, problems, health, readiness, metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cutover_kit import audit, context, dead_letters, metrics
from cutover_kit.auth import Caller, check_every_route_is_scoped
from cutover_kit.db import UnitOfWork
from cutover_kit.directory import AccountsDirectory
from cutover_kit.openapi import document_the_edge
from cutover_kit.problems import install_problem_handlers, problem_response
from cutover_kit.ratelimit import enforce_rate_limit
from cutover_kit.runtime import ServiceRuntime

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"Request bodies are limited to {MAX_BODY_BYTES} bytes."
OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json"}


async def guard(request: Request, _: Caller) -> None:
    """What every protected route does first. Authentication (401) names the actor; then that
    actor's rate limit (429), then the write the request makes, which its commit records in the
    audit log. Each route then declares its scopes (403). One dependency, not three: FastAPI's
    bookkeeping for each is about as costly as what these do."""
    await enforce_rate_limit(request)
    await audit.note_write(request)


async def unit_of_work(request: Request) -> UnitOfWork:
    """A fresh unit of work on the service's database; the use case opens and commits it."""
    return request.app.state.runtime.database.unit_of_work()


async def accounts_directory(request: Request) -> AccountsDirectory:
    return request.app.state.runtime.resources["accounts_directory"]


Directory = Annotated[AccountsDirectory, Depends(accounts_directory)]


class RequestContextMiddleware:
    """Correlation id in (X-Request-ID, validated) and out, a bound on the body, request metrics.

    A plain ASGI middleware (not `BaseHTTPMiddleware`): it wraps `receive` and `send` without
    buffering or a task per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id")
        if request_id is not None and not REQUEST_ID.fullmatch(request_id):
            refusal = problem_response(
                400,
                code="invalid-request-id",
                detail="X-Request-ID must be 1-128 characters of letters, digits and . _ : -",
            )
            await refusal(scope, receive, send)
            return
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            await problem_response(413, code="body-too-large", detail=TOO_LARGE)(
                scope, receive, send
            )
            return
        request_id = request_id or uuid.uuid4().hex
        received = 0
        status = 500

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                # An HTTPException, so FastAPI's body parsing passes it on as it is.
                raise HTTPException(413, detail=TOO_LARGE)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = context.correlation_id.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, bounded_receive, send_with_id)
        finally:
            context.correlation_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            metrics.http_requests.labels(method, route, str(status)).inc()
            metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)


class ReadinessReport(BaseModel):
    """What `/readyz` reports, ready or not."""

    checks: dict[str, str] = Field(description="Each dependency (database, kafka): ok, or why not")
    topics: dict[str, str] = Field(
        description="`status` (ok, drift or not checked), then each setting that drifted from "
        "its declaration"
    )
    relay: Literal["leader", "standby"] = Field(
        description="Whether this process's outbox relay holds the lease"
    )


class Readiness(ReadinessReport):
    """`/readyz`'s answer when ready."""

    status: Literal["ready"]


class NotReady(ReadinessReport):
    """`/readyz`'s 503: a problem document (RFC 9457) with the same report."""

    type: str = Field(json_schema_extra={"format": "uri"})
    title: str
    status: Literal[503]
    detail: str


def operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Alive: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Ready: the database and Kafka are reachable",
        responses={
            200: {"model": Readiness},
            503: {
                "description": "A dependency is not reachable, or the process is draining",
                "content": {"application/problem+json": {"schema": NotReady.model_json_schema()}},
            },
        },
    )
    async def readyz(request: Request) -> Response:
        runtime = request.app.state.runtime
        checks = await runtime.readiness()
        # Topic drift is shown, not failed on: the topics still carry the events. So is whether
        # this process's relay leads: a standby is as ready as the leader. Both answers carry the
        # report through its model, so neither can drift from what OpenAPI says.
        report = ReadinessReport(
            checks=checks, topics=runtime.topics_report, relay=runtime.relay_role()
        ).model_dump()
        if all(value == "ok" for value in checks.values()):
            ready = Readiness(status="ready", **report)
            return Response(content=ready.model_dump_json(), media_type="application/json")
        return problem_response(
            503,
            code="not-ready",
            detail="Draining after SIGTERM"
            if runtime.draining
            else "A dependency is not reachable",
            **report,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=True)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def build_app(
    runtime: ServiceRuntime, *, title: str, description: str, routers: list[APIRouter]
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=runtime.lifespan,
        # Cutover reports through Prometheus and its logs. FastAPI's own OpenTelemetry hooks find
        # no provider here (only the API package is installed) but looked for one on every request:
        # 2 % of accounts' busy samples under the disconnect bench (py-spy).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(operations_router())
    for router in [*routers, dead_letters.router, audit.router]:
        app.include_router(router, dependencies=[Depends(guard)])
    check_every_route_is_scoped(app, OPEN_PATHS)
    document_the_edge(app, OPEN_PATHS)
    return app
