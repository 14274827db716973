"""Tokens for the test system: a signing key and JWKS made for each session, the services' own
identities, and tokens good and bad for the tests to send.

The services' identity scopes are written out here, not imported from the code that uses them: the
end-to-end tests pass only if each service really does its work with no more than these.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cutover_cli.tokens import JWKS_FILE, SCOPES, SigningKey, init_keys, issue, key_id, public_jwk

ISSUER = "urn:cutover:test"
ALL_SCOPES = frozenset(SCOPES)
SERVICE_SCOPES = {
    "accounts": ("billing:read", "addresses:read", "scheduler:read"),
    "billing": ("accounts:read",),
    "addresses": ("accounts:read",),
    "scheduler": ("accounts:read",),
}
# Long enough for any session; the renewal of a token file is tested on its own.
SERVICE_TOKEN_TTL = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


class TestIssuer:
    """The session's identity provider: one signing key, its JWKS file, and a token factory."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, key_dir: Path) -> None:
        shutil.rmtree(key_dir, ignore_errors=True)
        self.key_dir = key_dir
        self.key: SigningKey = init_keys(key_dir, ISSUER)
        self.jwks_file = key_dir / JWKS_FILE

    def token(
        self, name: str, scopes: set[str] | frozenset[str] | tuple[str, ...], ttl: int = 600
    ) -> str:
        return issue(self.key, name=name, scopes=sorted(scopes), ttl_seconds=ttl)

    def service_token_file(self, service: str) -> Path:
        path = self.key_dir / f"{service}.jwt"
        path.write_text(self.token(service, SERVICE_SCOPES[service], ttl=SERVICE_TOKEN_TTL) + "\n")
        return path

    # --- tokens every service must refuse --------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": "cutover",
            "sub": "mallory",
            "name": "mallory",
            "scope": " ".join(sorted(ALL_SCOPES)),
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def signed(
        self,
        claims: dict[str, Any],
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        kid: str | None = "",
    ) -> str:
        headers = {} if kid is None else {"kid": kid or self.key.kid}
        return jwt.encode(claims, key or self.key.private_key, algorithm="ES256", headers=headers)

    def refused_tokens(self) -> dict[str, str]:
        """Tokens with every scope that are each wrong in one way, by what is wrong."""
        stranger = ec.generate_private_key(ec.SECP256R1())
        public_pem = self.key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header_hs = {"alg": "HS256", "typ": "JWT", "kid": self.key.kid}
        signing_input = f"{_segment(header_hs)}.{_segment(self.claims())}"
        # The classic key-confusion forgery: HMAC keyed with the public key a verifier might pass.
        hs256 = _b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
        unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': self.key.kid})}.{_segment(self.claims())}."
        return {
            "expired": self.signed(
                self.claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
            ),
            "signed by another key (same kid)": self.signed(self.claims(), key=stranger),
            "signed by an unknown key": self.signed(
                self.claims(), key=stranger, kid=key_id(stranger.public_key())
            ),
            "another issuer": self.signed(self.claims(iss="urn:cutover:elsewhere")),
            "another audience": self.signed(self.claims(aud="billing-system")),
            "no exp": self.signed(self.claims(exp=None)),
            "no kid": self.signed(self.claims(), kid=None),
            "alg none": unsigned,
            "HS256 keyed with the public key": f"{signing_input}.{hs256}",
            "not a JWT": "not-a-token",
        }


def second_key_jwks(issuer: TestIssuer) -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    """Another key, and a JWKS holding it beside the issuer's: a rotation in progress."""
    new_key = ec.generate_private_key(ec.SECP256R1())
    keys = [public_jwk(issuer.key.private_key.public_key()), public_jwk(new_key.public_key())]
    return new_key, {"keys": keys}
