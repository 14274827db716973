"""`cutover accounts ...`: list, show, create, edit, and the lifecycle actions."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from cutover_cli import disconnect
from cutover_cli.catalog import Catalog
from cutover_cli.client import Api
from cutover_cli.disconnects import state as disconnect_state
from cutover_cli.options import AccountId, Cursor, JsonFlag, Limit
from cutover_cli.output import Output, clock, details, moment, money, shown, table, time_column

app = typer.Typer(no_args_is_help=True)
app.command("disconnect")(disconnect.disconnect)

Status = Annotated[
    str | None, typer.Option("--status", help="A status name or id.", show_default=False)
]
Type = Annotated[str | None, typer.Option("--type", help="A type name or id.", show_default=False)]
Parent = Annotated[
    int | None, typer.Option("--parent", min=1, help="The parent account id.", show_default=False)
]
HISTORY_SHOWN = 100


@app.command("list")
def list_accounts(
    ctx: typer.Context,
    status: Status = None,
    type_: Type = None,
    parent: Parent = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Part of a name, or an id.", show_default=False),
    ] = None,
    include_archived: Annotated[
        bool, typer.Option(help="Archived accounts too (hidden by default).")
    ] = False,
    sort: Annotated[
        str,
        typer.Option(
            help="id, name, created_at, updated_at, activated_at or disconnected_at; '-' reverses."
        ),
    ] = "id",
    limit: Limit = 50,
    cursor: Cursor = None,
    json_output: JsonFlag = False,
) -> None:
    """Accounts, filtered like the API's list."""
    with Api(ctx.obj) as api:
        catalog = Catalog.load(api)
        page = api.get(
            "accounts",
            "/accounts",
            account_status_id=catalog.status_id(status),
            account_type_id=catalog.type_id(type_),
            parent_account_id=parent,
            q=search,
            include_archived=include_archived,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )

    def listing() -> Table:
        times = ["activated", "disconnected", *(["archived"] if include_archived else [])]
        rows = table("id", "name", "type", "status", "parent", *map(time_column, times))
        for account in page["items"]:
            cells = [
                str(account["id"]),
                account["name"],
                catalog.type(account["account_type_id"]),
                catalog.status(account["account_status_id"]),
                shown(account["parent_account_id"]),
                clock(account["activated_at"]),
                clock(account["disconnected_at"]),
            ]
            rows.add_row(*cells, *([clock(account["archived_at"])] if include_archived else []))
        return rows

    Output(json_output).page(page, listing)


@app.command("show")
def show(ctx: typer.Context, account_id: AccountId, json_output: JsonFlag = False) -> None:
    """An account, its latest disconnects and its history."""
    with Api(ctx.obj) as api:
        account = api.get("accounts", f"/accounts/{account_id}")
        disconnects = api.get("accounts", f"/accounts/{account_id}/disconnects", limit=5)
        history = api.get(
            "accounts", f"/accounts/{account_id}/history", sort="-id", limit=HISTORY_SHOWN
        )
        catalog = Catalog.load(api)
    entries = list(reversed(history["items"]))

    def render(console: Console) -> None:
        console.print(account_details(account, catalog))
        if disconnects["items"]:
            requests = table(
                time_column("requested"), "source", "state", "final invoice", "address", "reason",
                title="Disconnects",
            )  # fmt: skip
            for item in disconnects["items"]:
                invoice = item["final_invoice"]
                requests.add_row(
                    clock(item["requested_at"]),
                    item["source"],
                    disconnect_state(item),
                    money(invoice["total"], invoice["currency"])
                    if invoice
                    else item["final_invoice_state"],
                    item["address_state"],
                    shown(item["reason"]),
                )
            console.print(requests)
        changes = table(
            time_column("at"),
            "change",
            "actor",
            "cause",
            Column("details", overflow="fold"),
            title="History",
        )
        for entry in entries:
            changes.add_row(
                clock(entry["at"]),
                entry["change"],
                entry["actor"],
                entry["cause"],
                "\n".join(
                    f"{key}={catalog.status(value) if key.endswith('status_id') else value}"
                    for key, value in entry["details"].items()
                ),
            )
        console.print(changes)
        if history["next_cursor"]:
            console.print(Text(f"Only the latest {HISTORY_SHOWN} changes are shown.", style="dim"))

    Output(json_output).emit(
        {"account": account, "disconnects": disconnects["items"], "history": entries}, render
    )


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The account's name.", show_default=False)],
    type_: Annotated[
        str, typer.Option("--type", help="A type name or id, e.g. Residential.", show_default=False)
    ],
    status: Status = None,
    parent: Parent = None,
    account_id: Annotated[
        int | None,
        typer.Option(
            "--id", min=1, help="Choose the id (default: the next one).", show_default=False
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an account (Active unless --status says otherwise)."""
    with Api(ctx.obj) as api:
        catalog = Catalog.load(api)
        body = {
            "id": account_id,
            "name": name,
            "account_type_id": catalog.type_id(type_),
            "account_status_id": catalog.status_id(status),
            "parent_account_id": parent,
        }
        account = api.post(
            "accounts",
            "/accounts",
            {key: value for key, value in body.items() if value is not None},
        )
    Output(json_output).done(
        account, f"Account {account['id']} created.", account_details(account, catalog)
    )


@app.command("edit")
def edit(
    ctx: typer.Context,
    account_id: AccountId,
    name: Annotated[str | None, typer.Option(help="A new name.", show_default=False)] = None,
    type_: Type = None,
    status: Status = None,
    parent: Parent = None,
    no_parent: Annotated[bool, typer.Option("--no-parent", help="Remove the parent.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Change an account's name, type, status or parent (the API's edit rules apply)."""
    if parent is not None and no_parent:
        raise typer.BadParameter("Give --parent or --no-parent, not both.")
    with Api(ctx.obj) as api:
        catalog = Catalog.load(api)
        body: dict[str, Any] = {
            key: value
            for key, value in {
                "name": name,
                "account_type_id": catalog.type_id(type_),
                "account_status_id": catalog.status_id(status),
                "parent_account_id": parent,
            }.items()
            if value is not None
        }
        if no_parent:
            body["parent_account_id"] = None
        if not body:
            raise typer.BadParameter(
                "Nothing to change: give --name, --type, --status, --parent or --no-parent."
            )
        account = api.patch("accounts", f"/accounts/{account_id}", body)
    Output(json_output).done(
        account, f"Account {account_id} updated.", account_details(account, catalog)
    )


@app.command("reactivate")
def reactivate(
    ctx: typer.Context,
    account_id: AccountId,
    status: Annotated[
        str | None,
        typer.Option(help="An activating status name or id (default: Active).", show_default=False),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Bring a disconnected account back to an activating status (its address is not re-attached)."""
    with Api(ctx.obj) as api:
        catalog = Catalog.load(api)
        status_id = catalog.status_id(status)
        body = {"account_status_id": status_id} if status_id else None
        account = api.post("accounts", f"/accounts/{account_id}/reactivate", body)
    message = f"Account {account_id} reactivated: {catalog.status(account['account_status_id'])}."
    Output(json_output).done(account, message, account_details(account, catalog))


@app.command("archive")
def archive(ctx: typer.Context, account_id: AccountId, json_output: JsonFlag = False) -> None:
    """Archive a disconnected account: hidden from lists, its pending scheduled events cancelled."""
    with Api(ctx.obj) as api:
        account = api.post("accounts", f"/accounts/{account_id}/archive")
        catalog = Catalog.load(api)
    Output(json_output).done(
        account, f"Account {account_id} archived.", account_details(account, catalog)
    )


def account_details(account: dict[str, Any], catalog: Catalog) -> Table:
    return details(
        [
            ("account", f"{account['id']}  {account['name']}"),
            ("type", catalog.type(account["account_type_id"])),
            ("status", catalog.status(account["account_status_id"])),
            ("parent", account["parent_account_id"]),
            ("activated", moment(account["activated_at"])),
            ("disconnected", moment(account["disconnected_at"])),
            ("archived", moment(account["archived_at"])),
            ("created", moment(account["created_at"])),
            ("updated", moment(account["updated_at"])),
        ]
    )
