"""Where the four APIs are and which token to send: defaults, then a TOML file, then the environment.

The variables are the ones the services use to find each other (`ACCOUNTS_URL`, ...) and the token
they accept (`CUTOVER_API_TOKEN`), so a shell set up for `make up` needs nothing more. The defaults
are the local ports of `make run`. The file holds the same keys in lower case, for an operator who
works against several systems:

    # ~/.config/cutover/config.toml
    accounts_url = "https://accounts.cutover.example"
    api_token = "..."
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import typer

LOCAL_PORTS = {"accounts": 8001, "billing": 8002, "addresses": 8003, "scheduler": 8004}
SERVICES = tuple(LOCAL_PORTS)
DEFAULT_FILE = Path("~/.config/cutover/config.toml")
TOKEN_KEY = "api_token"
KEYS = {f"{service}_url" for service in SERVICES} | {TOKEN_KEY}


@dataclass(frozen=True)
class Config:
    urls: dict[str, str]
    token: str | None


def load(path: Path | None, environ: Mapping[str, str] = os.environ) -> Config:
    """The configuration in force; a file named explicitly must exist, the default one may not."""
    explicit = path is not None
    path = (path or DEFAULT_FILE).expanduser()
    values: dict[str, str] = {}
    if path.is_file():
        values = _read_file(path)
    elif explicit:
        raise typer.BadParameter(f"{path} does not exist.", param_hint="--config")
    for key in KEYS:
        variable = "CUTOVER_API_TOKEN" if key == TOKEN_KEY else key.upper()
        if environ.get(variable):
            values[key] = environ[variable]
    urls = {
        service: values.get(f"{service}_url", f"http://127.0.0.1:{port}").rstrip("/")
        for service, port in LOCAL_PORTS.items()
    }
    for service, url in urls.items():
        if not url.startswith(("http://", "https://")):
            raise typer.BadParameter(
                f"{service.upper()}_URL must start with http:// or https:// (got {url!r})."
            )
    return Config(urls, values.get(TOKEN_KEY))


def _read_file(path: Path) -> dict[str, str]:
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise typer.BadParameter(f"{path}: {error}", param_hint="--config") from error
    unknown = sorted(set(values) - KEYS)
    if unknown:
        raise typer.BadParameter(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}.",
            param_hint="--config",
        )
    not_text = sorted(key for key, value in values.items() if not isinstance(value, str))
    if not_text:
        raise typer.BadParameter(
            f"{path}: {', '.join(not_text)} must be strings.", param_hint="--config"
        )
    return values
