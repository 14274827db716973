"""Every failure the CLI reports is a problem document (RFC 9457) and an exit code.

The APIs already answer errors as problem documents; the CLI makes its own failures (a service that
does not answer, a disconnect still running after --timeout, a bug) the same shape, so `--json`
prints one kind of thing and the screen one kind of message. The exit code tells scripts the class
of failure without parsing anything.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import httpx


class ExitCode(IntEnum):
    OK = 0
    REFUSED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNREACHABLE = 5
    CLIENT_ERROR = 6
    STILL_RUNNING = 7
    BUG = 8


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 refused by the API (409, 422), or a followed disconnect abandoned; "
    "2 usage error; 3 not found (404); "
    "4 auth (401, 403); 5 unreachable (no answer, a timeout, a 5xx, or a service not ready); "
    "6 another client error (4xx); 7 a disconnect accepted but not complete within --timeout; "
    "8 an unexpected error in the CLI itself; 130 interrupted (Ctrl-C)."
)


def exit_code_for(status: int) -> ExitCode:
    if status in (409, 422):
        return ExitCode.REFUSED
    if status == 404:
        return ExitCode.NOT_FOUND
    if status in (401, 403):
        return ExitCode.AUTH
    if status >= 500:
        return ExitCode.UNREACHABLE
    return ExitCode.CLIENT_ERROR


def cli_problem(code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem document for a failure of the CLI's own, typed like the APIs' ones."""
    return {"type": f"urn:cutover:cli:{code}", "title": title, "detail": detail, **extra}


class Problem(Exception):
    """A failure to show the operator (title, detail, field errors) before exiting with its code.

    `hint` is a line for the screen only (what to do next); `--json` prints the document alone.
    """

    def __init__(
        self, document: dict[str, Any], exit_code: ExitCode, hint: str | None = None
    ) -> None:
        super().__init__(document.get("detail") or document.get("title"))
        self.document = document
        self.exit_code = exit_code
        self.hint = hint

    @classmethod
    def of_response(cls, response: httpx.Response, service: str | None = None) -> Problem:
        """The API's problem document; a body that is not one (a proxy's page) is wrapped."""
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict) or "title" not in document:
            document = {
                "type": "about:blank",
                "title": response.reason_phrase or f"HTTP {response.status_code}",
                "status": response.status_code,
                "detail": response.text[:300],
            }
        return cls(document, exit_code_for(response.status_code), _server_hint(response, service))

    @classmethod
    def unreachable(cls, service: str, url: str, error: Exception) -> Problem:
        reason = str(error) or type(error).__name__
        detail = (
            f"{service} at {url} did not answer ({reason}). Is it running, and is "
            f"{service.upper()}_URL right?"
        )
        return cls(
            cli_problem("unreachable", "Service unreachable", detail, service=service),
            ExitCode.UNREACHABLE,
        )

    @property
    def status(self) -> int | None:
        return self.document.get("status")


def _server_hint(response: httpx.Response, service: str | None) -> str | None:
    """A 5xx names the service that answered it and, with `Retry-After`, when to try again: the
    problem's own detail may be about a peer of that service."""
    if response.status_code < 500:
        return None
    hint = f"{service or 'The service'} answered {response.status_code}"
    retry_after = response.headers.get("Retry-After", "").strip()
    if retry_after.isdigit():
        hint += f"; try again in {retry_after} s"
    elif retry_after:
        hint += f"; try again after {retry_after}"
    return hint + "."
