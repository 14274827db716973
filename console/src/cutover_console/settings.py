"""Where the four APIs are and the key that seals session cookies, from the environment.

The console has no identity of its own: it holds no API token, only the URLs the services use to
find each other (`ACCOUNTS_URL`, ...) and a key for its cookies. The key comes from
`CONSOLE_SECRET_KEY` (Fernet keys, comma-separated: the first seals, all open, so a key can be
rotated without signing everyone out) or from the file `CONSOLE_SECRET_KEY_FILE` (one key a line);
every replica given the same key reads every replica's cookies, and a restart signs no one out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from cutover_cli.config import LOCAL_PORTS

DEFAULT_PORT = 8080
# A break-glass token carries no expiry of its own: its session ends after this many hours.
SESSION_HOURS_WITHOUT_EXP = 8


class ConfigurationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    urls: dict[str, str]
    cookie_keys: MultiFernet
    # Secure cookies need HTTPS; the local console is plain HTTP on loopback.
    secure_cookies: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        urls = {
            service: environ.get(f"{service.upper()}_URL", f"http://127.0.0.1:{port}").rstrip("/")
            for service, port in LOCAL_PORTS.items()
        }
        return cls(
            urls=urls,
            cookie_keys=_cookie_keys(environ),
            secure_cookies=environ.get("CONSOLE_SECURE_COOKIES", "") in ("1", "true", "yes"),
        )


def _cookie_keys(environ: Mapping[str, str]) -> MultiFernet:
    if environ.get("CONSOLE_SECRET_KEY"):
        texts = environ["CONSOLE_SECRET_KEY"].split(",")
    elif environ.get("CONSOLE_SECRET_KEY_FILE"):
        texts = Path(environ["CONSOLE_SECRET_KEY_FILE"]).read_text().split()
    else:
        raise ConfigurationError(
            "Set CONSOLE_SECRET_KEY or CONSOLE_SECRET_KEY_FILE to a Fernet key (make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`); "
            "`make up` keeps one in its state dir."
        )
    try:
        return MultiFernet([Fernet(text.strip()) for text in texts if text.strip()])
    except (ValueError, TypeError) as error:
        raise ConfigurationError(f"The console's secret key is not a Fernet key: {error}") from None
