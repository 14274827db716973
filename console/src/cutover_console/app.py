"""The console's composition root: the settings, the session cookie, the error pages, the routes."""

from __future__ import annotations

import time
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from cutover_cli.errors import Problem
from cutover_console import accounts, disconnects, events, operations, report, sign_in
from cutover_console.session import COOKIE, Session
from cutover_console.settings import Settings
from cutover_console.web import HERE, CsrfRefused, SignInRequired, back, render, session_of

# Pages hold account data and act on it: nothing from elsewhere runs in them, frames them or
# receives their forms, and no shared cache keeps them.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="Cutover console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (sign_in, accounts, disconnects, events, report, operations):
        app.include_router(module.router)

    @app.middleware("http")
    async def session_cookie(request: Request, call_next) -> Response:  # type: ignore[no-untyped-def]
        session = Session.open(request.cookies.get(COOKIE), settings.cookie_keys)
        request.state.session = session
        response = await call_next(request)
        if session.changed:
            response.set_cookie(
                COOKIE,
                session.seal(settings.cookie_keys),
                max_age=max(0, session.expires_at - int(time.time())),
                httponly=True,
                samesite="strict",
                secure=settings.secure_cookies,
                path="/",
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = back(request)
        return RedirectResponse(f"/sign-in?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        return render(
            request,
            "error.html",
            403,
            problem={
                "title": "Form expired",
                "detail": "This form was not sent from a page of your current session (or the "
                "session changed since). Nothing was done: reload the page and try again.",
            },
        )

    @app.exception_handler(Problem)
    async def api_problem(request: Request, problem: Problem) -> Response:
        """An API's refusal as a readable message: after a form, on the page it came from; for a
        page, as the page. A token the API no longer accepts ends the session."""
        session = session_of(request)
        if problem.status == 401:
            session.sign_out()
            session.notify("error", "Please sign in again.", problem.document)
            return RedirectResponse("/sign-in", status_code=303)
        if request.method != "GET":
            session.notify("error", "The action was refused.", problem.document)
            return RedirectResponse(back(request), status_code=303)
        status = problem.status if isinstance(problem.status, int) else 502
        return render(request, "error.html", status, problem=problem.document)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return render(
            request,
            "error.html",
            error.status_code,
            problem={"title": "Not found" if error.status_code == 404 else str(error.detail)},
        )

    @app.get("/readyz", include_in_schema=False)
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/accounts", status_code=303)

    return app
