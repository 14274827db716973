"""HTTP to the four services: the operator's token on every call, every failure a `Problem`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import httpx

from cutover_cli.config import Config
from cutover_cli.errors import Problem

TIMEOUT_SECONDS = 10.0


def headers(config: Config) -> dict[str, str]:
    sent = {"User-Agent": "cutover-cli"}
    if config.token:
        sent["Authorization"] = f"Bearer {config.token}"
    return sent


@contextmanager
def reaching(service: str, url: str) -> Iterator[None]:
    """No answer at all (refused, reset, timed out, a bad scheme) becomes an `unreachable` problem."""
    try:
        yield
    except httpx.TransportError as error:
        raise Problem.unreachable(service, url, error) from error


def answer(response: httpx.Response, service: str | None = None) -> Any:
    """The body of a success; the problem document of anything else, raised."""
    if response.is_success:
        return response.json() if response.content else None
    raise Problem.of_response(response, service)


def query(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the options the operator left out."""
    return {name: value for name, value in params.items() if value is not None}


class Api:
    """One operator session with the four services (synchronous: one question at a time)."""

    def __init__(self, config: Config, timeout: float = TIMEOUT_SECONDS) -> None:
        self.config = config
        self.timeout = timeout
        self._clients: dict[str, httpx.Client] = {}

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        for client in self._clients.values():
            client.close()

    def _client(self, service: str) -> httpx.Client:
        if service not in self._clients:
            self._clients[service] = httpx.Client(
                base_url=self.config.urls[service],
                headers=headers(self.config),
                timeout=self.timeout,
            )
        return self._clients[service]

    def request(self, service: str, method: str, path: str, **options: Any) -> httpx.Response:
        """The raw answer, whatever its status (for readiness and metrics)."""
        with reaching(service, self.config.urls[service]):
            return self._client(service).request(method, path, **options)

    def open_stream(self, service: str, method: str, path: str, **options: Any) -> httpx.Response:
        """The answer with its body still unread (`iter_bytes`), for a download passed on as it
        arrives; the caller closes it."""
        client = self._client(service)
        with reaching(service, self.config.urls[service]):
            return client.send(client.build_request(method, path, **options), stream=True)

    def get(self, service: str, path: str, **params: Any) -> Any:
        return answer(self.request(service, "GET", path, params=query(params)), service)

    def download(self, service: str, path: str, out: BinaryIO, **params: Any) -> int:
        """Write a streamed answer (a CSV export) to `out` as it arrives; the bytes written. The
        whole answer is never held: an export of a million rows costs what one chunk does."""
        response = self.open_stream(service, "GET", path, params=query(params))
        try:
            if not response.is_success:
                response.read()
                raise Problem.of_response(response, service)
            written = 0
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
            return written
        finally:
            response.close()

    def post(self, service: str, path: str, body: Any = None) -> Any:
        return answer(self.request(service, "POST", path, json=body), service)

    def patch(self, service: str, path: str, body: Any) -> Any:
        return answer(self.request(service, "PATCH", path, json=body), service)
