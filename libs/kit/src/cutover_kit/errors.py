"""Framework-free error bases that domain errors extend; the HTTP edge maps each base once.

A domain error carries the ids it is about (`AccountNotFound(account_id)`), a stable `code` that
becomes the problem `type`, and a sentence for an operator.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad-request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not-found"


class DoesNotExist(NotFound):
    """The thing an id names does not exist: "<subject> <id> does not exist.", with the id in the
    problem under `id_member`. A subclass declares the three; most 404s are this one sentence."""

    subject = "Resource"
    id_member = "id"

    def __init__(self, id_: object) -> None:
        super().__init__(f"{self.subject} {id_} does not exist.", **{self.id_member: id_})


class AccountNotFound(DoesNotExist):
    """Answered by every service: accounts owns accounts, the others refer to them by id."""

    code = "account-not-found"
    subject = "Account"
    id_member = "account_id"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class PeerUnavailable(DomainError):
    """Another Cutover service did not answer: a 503 with `Retry-After`, nothing written."""

    status = 503
    code = "peer-unavailable"
    retry_after_seconds = 2

    def __init__(self, peer: str, cause: str) -> None:
        super().__init__(
            f"The {peer} service did not answer ({cause}); nothing was changed. Retry shortly.",
            peer=peer,
        )
