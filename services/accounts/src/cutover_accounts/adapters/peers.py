"""What the other services know about an account, asked over their HTTP APIs for the disconnect
preview. Each answer is optional: a service that is down or slow makes its part of the preview
`unavailable`, never the whole preview an error."""

from __future__ import annotations

from typing import Any

import httpx

from cutover_kit.errors import PeerUnavailable

PEER_TIMEOUT_SECONDS = 1.5


class Peers:
    def __init__(
        self,
        *,
        billing_url: str,
        addresses_url: str,
        scheduler_url: str,
        auth: httpx.Auth | None,
    ) -> None:
        """`auth`: accounts' own identity (billing:read, addresses:read, scheduler:read)."""
        self._client = httpx.AsyncClient(auth=auth, timeout=PEER_TIMEOUT_SECONDS)
        self._urls = {
            "billing": billing_url,
            "addresses": addresses_url,
            "scheduler": scheduler_url,
        }

    async def _get(self, peer: str, path: str, **params: Any) -> dict[str, Any] | None:
        """The JSON answer; None for a 404; PeerUnavailable for anything else."""
        try:
            response = await self._client.get(self._urls[peer] + path, params=params)
        except httpx.HTTPError as error:
            raise PeerUnavailable(peer, type(error).__name__) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerUnavailable(peer, f"answered {response.status_code}")
        return response.json()

    async def uninvoiced(self, account_id: int) -> dict[str, Any]:
        answer = await self._get("billing", f"/accounts/{account_id}/uninvoiced")
        return answer or {"count": 0, "total": 0, "currency": "USD"}

    async def serviceable_address(self, account_id: int) -> dict[str, Any] | None:
        return await self._get("addresses", f"/accounts/{account_id}/serviceable-address")

    async def pending_scheduled_events(self, account_id: int) -> list[dict[str, Any]]:
        answer = await self._get(
            "scheduler", "/scheduled-events", account_id=account_id, state="pending", limit=500
        )
        if answer is None:
            raise PeerUnavailable("scheduler", "no scheduled-events API")
        return answer["items"]

    async def close(self) -> None:
        await self._client.aclose()
