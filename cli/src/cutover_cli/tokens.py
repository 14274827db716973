"""`cutover tokens`: the local stack's own little identity provider.

`make up` runs `cutover tokens init`, which creates a signing key (ES256, private key 0600) and the
JWKS the services verify with, under `.local/dev/` (or `--key-dir`); `cutover tokens issue` signs a
token with that key for a name and scopes. A production deployment issues nothing here: its
services read their identity provider's JWKS (`CUTOVER_JWKS_URL`), and people and services get
their tokens from that provider.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# PyJWT and cryptography are imported where they are used: every other command starts without them.

AUDIENCE = "cutover"
ALGORITHM = "ES256"
DEFAULT_KEY_DIR = Path(".local/dev")
DEFAULT_ISSUER = "urn:cutover:local"
KEY_FILE, JWKS_FILE, ISSUER_FILE = "signing-key.pem", "jwks.json", "token-issuer"
# BRIEF §6; the services ignore any other scope a token holds.
SCOPES = (
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
)
TTL = re.compile(r"^(\d+)([smhd])$")
TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

app = typer.Typer(no_args_is_help=True)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    issuer: str


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    from jwt.algorithms import ECAlgorithm

    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": key_id(public_key), "alg": ALGORITHM, "use": "sig"}


def _write_private(path: Path, data: bytes) -> None:
    """Created 0600 from the start: the key is never readable by others, not even for a moment."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def init_keys(key_dir: Path, issuer: str = DEFAULT_ISSUER) -> SigningKey:
    """The key dir's signing key, its JWKS and issuer, each created when missing (an existing key
    is kept, so tokens already issued stay valid)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key_dir.mkdir(parents=True, exist_ok=True)
    key_path = key_dir / KEY_FILE
    if not key_path.exists():
        private_key = ec.generate_private_key(ec.SECP256R1())
        _write_private(
            key_path,
            private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        (key_dir / JWKS_FILE).unlink(missing_ok=True)
    if not (key_dir / ISSUER_FILE).exists():
        (key_dir / ISSUER_FILE).write_text(issuer + "\n")
    key = load_key(key_dir)
    if not (key_dir / JWKS_FILE).exists():
        public_key = key.private_key.public_key()
        (key_dir / JWKS_FILE).write_text(
            json.dumps({"keys": [public_jwk(public_key)]}, indent=2) + "\n"
        )
    return key


def load_key(key_dir: Path) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        private_key = serialization.load_pem_private_key(
            (key_dir / KEY_FILE).read_bytes(), password=None
        )
        issuer = (key_dir / ISSUER_FILE).read_text().strip()
    except FileNotFoundError as error:
        raise typer.BadParameter(
            f"no signing key in {key_dir} ({error.filename} is missing): run `make up`, which"
            " creates it, or give --key-dir.",
            param_hint="--key-dir",
        ) from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise typer.BadParameter(f"{key_dir / KEY_FILE} is not an EC key", param_hint="--key-dir")
    return SigningKey(key_id(private_key.public_key()), private_key, issuer)


def issue(
    key: SigningKey, *, name: str, scopes: list[str], ttl_seconds: int, subject: str | None = None
) -> str:
    import jwt

    now = int(time.time())
    claims = {
        "iss": key.issuer,
        "aud": AUDIENCE,
        "sub": subject or name,
        "name": name,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def parse_ttl(text: str) -> int:
    match = TTL.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise typer.BadParameter(
            f"{text!r} is not a duration: a number and s, m, h or d (30m, 1h, 7d).",
            param_hint="--ttl",
        )
    return int(match.group(1)) * TTL_UNITS[match.group(2)]


KeyDir = Annotated[
    Path,
    typer.Option(
        "--key-dir",
        envvar="CUTOVER_KEY_DIR",
        help="Where the local stack keeps its signing key and JWKS.",
        file_okay=False,
    ),
]


@app.command("issue")
def issue_command(
    name: Annotated[
        str, typer.Option("--name", help="Who the token is: the actor in history and audit.")
    ],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help=f"A scope (repeat for more): {', '.join(SCOPES)}."),
    ],
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 30m, 1h, 7d.")] = "1h",
    key_dir: KeyDir = DEFAULT_KEY_DIR,
) -> None:
    """Print a token for the local stack (its last line of stdout) signed with its key."""
    unknown = sorted({item for item in scope if item not in SCOPES})
    if unknown:
        raise typer.BadParameter(
            f"unknown scope {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}.",
            param_hint="--scope",
        )
    if not 1 <= len(name) <= 200:
        raise typer.BadParameter("a name of 1-200 characters", param_hint="--name")
    ttl_seconds = parse_ttl(ttl)
    token = issue(load_key(key_dir), name=name, scopes=scope, ttl_seconds=ttl_seconds)
    sys.stderr.write(f"token for {name!r} with {' '.join(scope)}, valid for {ttl}:\n")
    sys.stdout.write(token + "\n")


@app.command("init")
def init_command(
    key_dir: KeyDir = DEFAULT_KEY_DIR,
    issuer: Annotated[
        str, typer.Option("--issuer", help="The issuer (iss) of the tokens; kept in the key dir.")
    ] = DEFAULT_ISSUER,
) -> None:
    """Create the local signing key and JWKS when missing (`make up` does)."""
    key = init_keys(key_dir, issuer)
    sys.stdout.write(
        f"key {key.kid} ({key_dir / KEY_FILE}), JWKS {key_dir / JWKS_FILE}, issuer {key.issuer}\n"
    )
