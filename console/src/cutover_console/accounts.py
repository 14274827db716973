"""The accounts list and the account page, with its edit, reactivate and archive actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cutover_cli.catalog import Catalog
from cutover_cli.client import Api
from cutover_console.web import CheckedForm, OperatorApi, Part, done, part, render

router = APIRouter()

PAGE_SIZE = 25
SORTS = {
    "id": "Id, ascending",
    "-id": "Id, descending",
    "name": "Name, A to Z",
    "-name": "Name, Z to A",
    "-created_at": "Newest first",
    "created_at": "Oldest first",
    "-activated_at": "Latest activation first",
    "-disconnected_at": "Latest disconnect first",
    "-updated_at": "Latest change first",
}


@router.get("/accounts")
def accounts_list(
    request: Request,
    api: OperatorApi,
    q: str | None = None,
    status: str | None = None,
    type: str | None = None,
    include_archived: bool = False,
    sort: str = "id",
    cursor: str | None = None,
) -> Response:
    catalog = Catalog.load(api)
    filters = {
        "q": q or None,
        "status": status or None,
        "type": type or None,
        "include_archived": include_archived or None,
        "sort": sort if sort in SORTS else "id",
    }
    page = api.get(
        "accounts",
        "/accounts",
        q=filters["q"],
        account_status_id=filters["status"],
        account_type_id=filters["type"],
        include_archived=include_archived,
        sort=filters["sort"],
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    return render(
        request,
        "accounts.html",
        page=page,
        catalog=catalog,
        filters=filters,
        sorts=SORTS,
        first_page=bool(cursor),
    )


@router.get("/accounts/{account_id}")
def account_page(
    request: Request, api: OperatorApi, account_id: int, disconnect: bool = False
) -> Response:
    account = api.get("accounts", f"/accounts/{account_id}")
    path = f"/accounts/{account_id}"
    return render(
        request,
        "account.html",
        account=account,
        catalog=Catalog.load(api),
        parent=part(
            lambda: (
                api.get("accounts", f"/accounts/{account['parent_account_id']}")
                if account["parent_account_id"]
                else None
            )
        ),
        children=part(lambda: api.get("accounts", f"{path}/children")["items"]),
        history=part(lambda: api.get("accounts", f"{path}/history", sort="-id", limit=100)),
        disconnects=part(lambda: api.get("accounts", f"{path}/disconnects")["items"]),
        invoices=part(lambda: api.get("billing", f"{path}/invoices", sort="-number")["items"]),
        address=part(lambda: api.get("addresses", f"{path}/serviceable-address"), True),
        address_history=part(lambda: api.get("addresses", f"{path}/address-history")["items"]),
        events=part(
            lambda: api.get("scheduler", "/scheduled-events", account_id=account_id)["items"]
        ),
        preview=_preview(api, account_id) if disconnect else None,
    )


def _preview(api: Api, account_id: int) -> Part:
    return part(lambda: api.get("accounts", f"/accounts/{account_id}/disconnect-preview"))


@router.post("/accounts/{account_id}/edit", dependencies=[CheckedForm])
def edit(
    request: Request,
    api: OperatorApi,
    account_id: int,
    name: Annotated[str, Form()],
    account_type_id: Annotated[str, Form()],
    account_status_id: Annotated[str, Form()],
) -> Response:
    current = api.get("accounts", f"/accounts/{account_id}")
    # Only what changed: a PATCH that names the status again would be checked as a status change.
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "name": name.strip(),
            "account_type_id": account_type_id,
            "account_status_id": account_status_id,
        }.items()
        if value != str(current[key])
    }
    if not changes:
        return done(request, "Nothing to change.")
    api.patch("accounts", f"/accounts/{account_id}", changes)
    return done(request, f"Account {account_id} saved.")


@router.post("/accounts/{account_id}/reactivate", dependencies=[CheckedForm])
def reactivate(
    request: Request,
    api: OperatorApi,
    account_id: int,
    account_status_id: Annotated[str, Form()] = "",
) -> Response:
    body = {"account_status_id": account_status_id} if account_status_id else None
    api.post("accounts", f"/accounts/{account_id}/reactivate", body)
    return done(request, f"Account {account_id} reactivated.")


@router.post("/accounts/{account_id}/archive", dependencies=[CheckedForm])
def archive(request: Request, api: OperatorApi, account_id: int) -> Response:
    api.post("accounts", f"/accounts/{account_id}/archive")
    return done(request, f"Account {account_id} archived.")
