"""Who is calling, and what they may do: JWT bearer tokens verified against a JWKS, scopes per route.

Every service verifies tokens itself (RFC 7519/7517): signature by the JWKS key the token's `kid`
names, issuer `CUTOVER_TOKEN_ISSUER`, audience `cutover`, `exp` required. The algorithms are fixed
and asymmetric (`ALGORITHMS`): they are never read from the token, so `alg: none` and an HS256 token
"signed" with the public key are refused before any key is used (RFC 8725 §2.1). The token's `name`
claim, else its `sub`, is the actor recorded in history; its space-separated `scope` claim says
what it may do, and each route declares the scopes it needs with `requires(...)`.

`CUTOVER_API_TOKEN`, when set, is a static break-glass token with every scope (actor `operator`),
compared in constant time: for local use and scripts, never for a service identity in production.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cutover_kit import context
from cutover_kit.errors import DomainError, PeerUnavailable

log = logging.getLogger(__name__)

AUDIENCE = "cutover"
ALGORITHMS = frozenset({"RS256", "ES256"})
BREAK_GLASS_ACTOR = "operator"
# Clock skew tolerated between the issuer and this service, on `exp` and `nbf`.
LEEWAY_SECONDS = 30
# The history's actor column holds this many characters.
MAX_ACTOR_CHARS = 200
# BRIEF §6: what a token may hold. `requires` refuses any other name, so a typo fails at import.
SCOPES = frozenset(
    {
        "accounts:read",
        "accounts:write",
        "accounts:lifecycle",
        "settings:write",
        "billing:read",
        "billing:write",
        "addresses:read",
        "addresses:write",
        "scheduler:read",
        "scheduler:write",
        "ops",
    }
)


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class InsufficientScope(DomainError):
    status = 403
    code = "insufficient-scope"

    def __init__(self, actor: str, missing: list[str], required: list[str]) -> None:
        super().__init__(
            f"The token of {actor!r} lacks the scope {', '.join(missing)} this request needs.",
            missing_scopes=missing,
            required_scopes=required,
        )


@dataclass(frozen=True)
class Principal:
    """The caller of one request: who (the actor in history) and what it may do."""

    actor: str
    scopes: frozenset[str]


# --- key sets -------------------------------------------------------------------------------------


class KeySet(Protocol):
    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The verification key with this id, None when the set has none."""

    async def close(self) -> None: ...


def _usable_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The JWKS's signing keys by `kid`, only those of an accepted (asymmetric) algorithm."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS is a JSON object with a "keys" array')
    keys = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not entry.get("kid") or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[str(entry["kid"])] = key
    return keys


class JwksFile:
    """A JWKS on disk, read again when the file changes (a key added for a rotation is picked up
    without a restart). A file that becomes unreadable keeps the last good set, with a warning."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._load()  # a missing or malformed file stops the service at start

    def _load(self) -> None:
        stat = self.path.stat()
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return
        self._keys = _usable_keys(json.loads(self.path.read_text()))
        self._seen = seen
        log.info("JWKS %s: keys %s", self.path, ", ".join(sorted(self._keys)) or "none usable")

    async def key(self, kid: str) -> jwt.PyJWK | None:
        try:
            self._load()
        except (OSError, ValueError) as error:
            log.warning("JWKS %s unreadable (%s); keeping the last good keys", self.path, error)
        return self._keys.get(kid)

    async def close(self) -> None:
        return None


class JwksUrl:
    """An identity provider's JWKS over HTTP, cached. An unknown `kid` fetches the set again (a key
    the provider just rotated in), at most once per `cooldown` so random ids cannot make this
    service hammer the provider; the set is also refreshed after `max_age` (keys rotated out go)."""

    def __init__(
        self,
        url: str,
        *,
        cooldown: float = 10.0,
        max_age: float = 3600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.cooldown = cooldown
        self.max_age = max_age
        self._client = httpx.AsyncClient(timeout=5.0, transport=transport)
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        age = time.monotonic() - self._fetched_at
        if (
            self._keys is None
            or age > self.max_age
            or (kid not in self._keys and age > self.cooldown)
        ):
            async with self._lock:
                # Another request may have fetched it while this one waited.
                age = time.monotonic() - self._fetched_at
                if self._keys is None or age > self.cooldown:
                    await self._fetch()
        return self._keys.get(kid) if self._keys is not None else None

    async def _fetch(self) -> None:
        try:
            response = await self._client.get(self.url)
            response.raise_for_status()
            keys = _usable_keys(response.json())
        except (httpx.HTTPError, ValueError) as error:
            self._fetched_at = time.monotonic()  # the cooldown applies to failures too
            if self._keys is None:
                raise PeerUnavailable("identity provider (JWKS)", type(error).__name__) from error
            log.warning("JWKS %s: %s; keeping the last good keys", self.url, error)
            return
        self._keys, self._fetched_at = keys, time.monotonic()
        log.info("JWKS %s: keys %s", self.url, ", ".join(sorted(keys)) or "none usable")

    async def close(self) -> None:
        await self._client.aclose()


# --- verification ---------------------------------------------------------------------------------


def _why(error: jwt.PyJWTError, issuer: str) -> str:
    """Why a token was refused, in a sentence for the caller (never the key material)."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "The token has expired; get a new one."
    if isinstance(error, jwt.ImmatureSignatureError):
        return "The token is not valid yet (nbf)."
    if isinstance(error, jwt.InvalidAudienceError):
        return f"The token is not meant for Cutover: its audience (aud) must be {AUDIENCE!r}."
    if isinstance(error, jwt.InvalidIssuerError):
        return f"The token was not issued by {issuer!r} (iss)."
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"The token has no {error.claim!r} claim; Cutover requires exp, iss and aud."
    if isinstance(error, jwt.InvalidSignatureError):
        return "The token's signature does not verify: it was not signed by the key it names."
    return f"The token is not a valid JWT ({type(error).__name__})."


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or refuses it with a 401 that says why."""

    def __init__(self, keys: KeySet | None, *, issuer: str | None, break_glass: str | None) -> None:
        if keys is not None and not issuer:
            raise ValueError("CUTOVER_TOKEN_ISSUER is required with a JWKS")
        self.keys = keys
        self.issuer = issuer or ""
        self._break_glass = break_glass.encode() if break_glass else None

    async def verify(self, token: str) -> Principal:
        if self._break_glass is not None and hmac.compare_digest(self._break_glass, token.encode()):
            return Principal(BREAK_GLASS_ACTOR, SCOPES)
        if self.keys is None:
            raise Unauthorized(
                "The bearer token is not valid (this service accepts no JWTs: no JWKS configured)."
            )
        claims = await self._verified_claims(token)
        actor = claims.get("name") or claims.get("sub")
        if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_CHARS:
            raise Unauthorized(
                f"The token names no caller: a 'name' or 'sub' claim of 1-{MAX_ACTOR_CHARS} characters is required."
            )
        scope = claims.get("scope", "")
        granted = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Principal(actor.strip(), granted & SCOPES)

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        assert self.keys is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthorized(
                "The bearer token is not valid (neither a JWT nor the break-glass token)."
            ) from error
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthorized(
                f"The token's algorithm {algorithm!r} is not accepted; Cutover accepts"
                f" {', '.join(sorted(ALGORITHMS))}."
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token names no key (kid); Cutover cannot verify it.")
        key = await self.keys.key(kid)
        if key is None:
            raise Unauthorized(f"The token is signed by an unknown key {kid!r}.")
        if key.algorithm_name != algorithm:
            raise Unauthorized(
                f"The token says {algorithm} but key {kid!r} is a {key.algorithm_name} key."
            )
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(_why(error, self.issuer)) from error

    async def close(self) -> None:
        if self.keys is not None:
            await self.keys.close()


def token_verifier(
    *,
    jwks_file: str | None,
    jwks_url: str | None,
    issuer: str | None,
    break_glass: str | None,
) -> TokenVerifier:
    """The verifier the settings describe, saying at start what it accepts."""
    keys: KeySet | None = None
    if jwks_file:
        keys = JwksFile(jwks_file)
    elif jwks_url:
        keys = JwksUrl(jwks_url)
    accepted = [f"JWTs from {issuer} ({jwks_file or jwks_url})"] if keys else []
    if break_glass:
        accepted.append("the break-glass CUTOVER_API_TOKEN")
    if accepted:
        log.info("accepting %s", " and ".join(accepted))
    else:
        log.warning("no JWKS and no CUTOVER_API_TOKEN: every protected request will be refused")
    return TokenVerifier(keys, issuer=issuer, break_glass=break_glass)


# --- the HTTP edge --------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False)


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from `Authorization: Bearer`; its actor becomes the actor of what follows."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "Send 'Authorization: Bearer <token>': a JWT from the identity provider (locally,"
            " `uv run cutover tokens issue`), or the break-glass CUTOVER_API_TOKEN."
        )
    verifier: TokenVerifier = request.app.state.runtime.verifier
    principal = await verifier.verify(credentials.credentials)
    context.actor.set(principal.actor)
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


def requires(*scopes: str) -> Any:
    """A dependency for a route (`dependencies=[requires("accounts:write")]`): the caller's token
    must hold every one of `scopes`, else a 403 `insufficient-scope` naming the missing ones."""
    unknown = set(scopes) - SCOPES
    if not scopes or unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; the scopes are {sorted(SCOPES)}")
    required = list(scopes)

    async def check(principal: Caller) -> Principal:
        missing = [scope for scope in required if scope not in principal.scopes]
        if missing:
            raise InsufficientScope(principal.actor, missing, required)
        return principal

    check.required_scopes = tuple(required)  # type: ignore[attr-defined]
    return Depends(check)


def _declared_scopes(route: Any) -> set[str]:
    found: set[str] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        found.update(getattr(dependency.call, "required_scopes", ()))
        pending.extend(dependency.dependencies)
    return found


def check_every_route_is_scoped(app: FastAPI, open_paths: set[str]) -> None:
    """Refuse to build an app with a protected route that declares no scope: a route added
    without `requires(...)` would otherwise be open to any valid token. The routes are walked as
    served (an included router's routes carry the inclusion's dependencies)."""
    unscoped = [
        f"{' '.join(sorted(route.methods))} {route.path}"
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and route.path not in open_paths
        and not _declared_scopes(route)
    ]
    if unscoped:
        raise RuntimeError(f"routes without requires(...): {', '.join(unscoped)}")
