"""A service's own identity when it calls another service: a bearer token holding only the scopes
it needs (`SERVICE_SCOPES`), never the caller's token and never more.

Where the token comes from, in order:
- `CUTOVER_SERVICE_TOKEN_FILE`: a file holding the token, read again whenever it changes (the local
  stack renews it there; Kubernetes or a sidecar agent rotates a mounted secret the same way);
- `CUTOVER_OAUTH_TOKEN_URL` with `CUTOVER_OAUTH_CLIENT_ID` and `CUTOVER_OAUTH_CLIENT_SECRET`: OAuth2
  client credentials (RFC 6749 §4.4) from the identity provider, renewed before it expires;
- else the break-glass `CUTOVER_API_TOKEN`, said so in a warning at start.

`ServiceAuth` is the `httpx.Auth` the service's HTTP clients use: a 401 answer makes it take a fresh
token (the file rewritten, a new grant) and try once more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Protocol

import httpx

log = logging.getLogger(__name__)

# What each service asks of the others, and so the scopes of its identity.
SERVICE_SCOPES = {
    "accounts": ("billing:read", "addresses:read", "scheduler:read"),  # the disconnect preview
    "billing": ("accounts:read",),  # a new account's facts (AccountsDirectory)
    "addresses": ("accounts:read",),
    "scheduler": ("accounts:read",),
}
# A client-credentials token is renewed once this share of its lifetime has passed.
RENEW_AT_FRACTION = 0.8


class TokenSource(Protocol):
    async def token(self) -> str | None: ...

    def invalidate(self) -> None:
        """The token was refused: the next `token()` gets a fresh one if it can."""

    async def close(self) -> None: ...


class StaticToken:
    def __init__(self, token: str | None) -> None:
        self._token = token

    async def token(self) -> str | None:
        return self._token

    def invalidate(self) -> None:
        return None

    async def close(self) -> None:
        return None


class TokenFile:
    """A token kept in a file by someone else (the stack's renewal, a secret mount), read again when
    the file changes; a file rewritten with a new token is used from the next request on."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int, int] | None = None
        self._token: str | None = None
        self._read()  # a missing file stops the service at start, not at its first call

    def _read(self) -> None:
        stat = self.path.stat()
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._token = self.path.read_text().strip() or None
            self._seen = seen

    async def token(self) -> str | None:
        try:
            self._read()
        except OSError as error:
            log.warning(
                "service token file %s unreadable (%s); keeping the last one", self.path, error
            )
        return self._token

    def invalidate(self) -> None:
        self._seen = None  # read the file again, even if its mtime did not change

    async def close(self) -> None:
        return None


class ClientCredentials:
    """OAuth2 client credentials: the token endpoint is asked for a token with the service's scopes
    (client authentication by HTTP Basic, RFC 6749 §2.3.1), renewed once `RENEW_AT_FRACTION` of its
    lifetime has passed, so a request never leaves with a token about to expire."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token_url = token_url
        self.scopes = scopes
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(client_id, client_secret), timeout=5.0, transport=transport
        )
        self._token: str | None = None
        self._renew_at = float("-inf")
        self._lock = asyncio.Lock()

    async def token(self) -> str | None:
        if time.monotonic() >= self._renew_at:
            async with self._lock:
                if time.monotonic() >= self._renew_at:
                    await self._grant()
        return self._token

    async def _grant(self) -> None:
        """A new token; an error (provider down, refused) reaches the caller as an httpx error,
        which the service's clients already answer as their peer being unavailable."""
        response = await self._client.post(
            self.token_url,
            data={"grant_type": "client_credentials", "scope": " ".join(self.scopes)},
        )
        response.raise_for_status()
        body = response.json()
        lifetime = float(body.get("expires_in", 300))
        self._token = body["access_token"]
        self._renew_at = time.monotonic() + lifetime * RENEW_AT_FRACTION

    def invalidate(self) -> None:
        self._renew_at = float("-inf")

    async def close(self) -> None:
        await self._client.aclose()


class ServiceAuth(httpx.Auth):
    """Sends the service's own token; after a 401, one more try with a fresh token."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.source.token()
        self._set(request, token)
        response = yield request
        if response.status_code == 401:
            self.source.invalidate()
            fresh = await self.source.token()
            if fresh and fresh != token:
                self._set(request, fresh)
                yield request

    @staticmethod
    def _set(request: httpx.Request, token: str | None) -> None:
        if token:
            request.headers["Authorization"] = f"Bearer {token}"

    async def close(self) -> None:
        await self.source.close()


def service_identity(
    service: str,
    *,
    token_file: str | None,
    oauth_token_url: str | None,
    oauth_client_id: str | None,
    oauth_client_secret: str | None,
    break_glass: str | None,
) -> ServiceAuth:
    """The identity the settings describe, said in a log line at start."""
    source: TokenSource
    if token_file:
        source = TokenFile(token_file)
        log.info("calling other services with the token in %s", token_file)
    elif oauth_token_url and oauth_client_id and oauth_client_secret:
        source = ClientCredentials(
            oauth_token_url, oauth_client_id, oauth_client_secret, SERVICE_SCOPES[service]
        )
        log.info("calling other services with client credentials from %s", oauth_token_url)
    else:
        source = StaticToken(break_glass)
        log.warning(
            "no CUTOVER_SERVICE_TOKEN_FILE and no CUTOVER_OAUTH_TOKEN_URL: calling other services"
            " with the break-glass CUTOVER_API_TOKEN%s",
            "" if break_glass else " (unset: those calls will be refused)",
        )
    return ServiceAuth(source)
