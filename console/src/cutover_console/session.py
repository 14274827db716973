"""The operator's session: an encrypted cookie, never a server-side store.

The cookie holds the operator's API token, the CSRF token of their forms, their browser's time
zone and a message to show on the next page, sealed with Fernet (AES-CBC with an HMAC): the browser
can neither read nor change it, and it is HttpOnly, so no page script ever sees the token. It is
SameSite=Strict, so another site's page cannot make the browser send it. It expires with the token's
own `exp`; the console only reads that claim after the API has accepted the token, so the claim is
the one the issuer signed.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import jwt
from cryptography.fernet import InvalidToken, MultiFernet

from cutover_console.settings import SESSION_HOURS_WITHOUT_EXP

COOKIE = "cutover_console"
# A signed-out session only carries the sign-in form's CSRF token.
ANONYMOUS_SECONDS = 12 * 3600


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    expires_at: int = field(default_factory=lambda: int(time.time()) + ANONYMOUS_SECONDS)
    token: str | None = None
    actor: str | None = None
    # The token's scopes, to disable what it may not do; None: every scope (the break-glass token).
    scopes: list[str] | None = None
    tz: str = "UTC"
    notices: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = field(default=False, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def can(self, *scopes: str) -> bool:
        """A hint for the page (a disabled button); the API decides."""
        return self.scopes is None or all(scope in self.scopes for scope in scopes)

    def sign_in(self, token: str, tz: str) -> None:
        claims = _claims(token)
        self.token = token
        self.tz = tz
        self.csrf = secrets.token_urlsafe(32)  # a new session, a new form token
        if claims is None:
            self.actor, self.scopes = "operator", None
            self.expires_at = int(time.time()) + SESSION_HOURS_WITHOUT_EXP * 3600
        else:
            self.actor = str(claims.get("name") or claims.get("sub") or "?")
            self.scopes = str(claims.get("scope", "")).split()
            self.expires_at = int(claims["exp"])
        self.changed = True

    def sign_out(self) -> None:
        """Back to a signed-out session, in place (the response seals this object)."""
        fresh = Session()
        for name in ("csrf", "expires_at", "token", "actor", "scopes", "tz", "notices"):
            setattr(self, name, getattr(fresh, name))
        self.changed = True

    def notify(self, kind: str, message: str, problem: dict[str, Any] | None = None) -> None:
        """A message for the next page the operator sees (after a redirect)."""
        self.notices.append({"kind": kind, "message": message, "problem": problem})
        self.changed = True

    def take_notices(self) -> list[dict[str, Any]]:
        notices, self.notices = self.notices, []
        if notices:
            self.changed = True
        return notices

    def seal(self, keys: MultiFernet) -> str:
        state = {name: value for name, value in asdict(self).items() if name != "changed"}
        return keys.encrypt(json.dumps(state).encode()).decode()

    @classmethod
    def open(cls, sealed: str | None, keys: MultiFernet) -> Session:
        """The session of a cookie; a new one when there is none, or it is forged or expired."""
        if sealed:
            try:
                state = json.loads(keys.decrypt(sealed.encode()))
                session = cls(**state)
            except (InvalidToken, ValueError, TypeError):
                pass
            else:
                if session.expires_at > time.time():
                    return session
        return cls(changed=True)


def _claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT the API has just accepted; None for the (opaque) break-glass token."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims.get("exp"), int) else None
