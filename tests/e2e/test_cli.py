"""The operator CLI against the running system, invoked the way an operator does.

Most commands run in-process through Typer's CliRunner (in a thread, so the async setup helpers
keep the session's event loop); the bulk interruption runs the installed `cutover` as a process
and stops it with SIGINT, like Ctrl-C. Every invocation is checked for a traceback.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import socket
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner, Result

from cutover_cli.main import app
from cutover_contracts.topics import ACCOUNT_CREATED
from tests.support.api import (
    ACTIVE,
    INACTIVE,
    at,
    attach,
    completed_disconnect,
    debit,
    disconnect,
    event_in_state,
    new_account,
    new_address,
    ok,
    schedule,
)
from tests.support.events import wait_until
from tests.support.system import TEST_TOKEN, System

pytestmark = pytest.mark.e2e

CUTOVER = Path(sys.executable).with_name("cutover")
runner = CliRunner()


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def operator_env(system: System, tmp_path: Path) -> dict[str, str | None]:
    """The environment `make up` tells an operator to set, and no config file."""
    return {
        **{f"{name.upper()}_URL": service.url for name, service in system.services.items()},
        "CUTOVER_API_TOKEN": TEST_TOKEN,
        "CUTOVER_CONFIG": None,
        "HOME": str(tmp_path),
        "COLUMNS": "200",
    }


async def cutover(env: dict[str, str | None], *args: str | int, input: str | None = None) -> Result:
    result = await asyncio.to_thread(
        runner.invoke, app, [str(arg) for arg in args], env=env, input=input
    )
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def loaded(result: Result, exit_code: int = 0) -> Any:
    """The JSON a `--json` command printed, and nothing else."""
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


async def test_status_shows_every_service_and_a_missing_one_as_unreachable(
    system: System, operator_env: dict[str, str | None]
) -> None:
    screen = await cutover(operator_env, "status")
    assert screen.exit_code == 0, screen.output
    for text in ("accounts", "billing", "addresses", "scheduler", "Consumer lag", "due backlog"):
        assert text in screen.stdout
    assert screen.stdout.count("ready") >= 4

    report = loaded(await cutover(operator_env, "status", "--json"))
    assert all(health["ready"] for health in report.values())
    assert all(health["metrics"]["outbox_backlog"] is not None for health in report.values())
    assert report["scheduler"]["metrics"]["scheduler_due_backlog"] is not None

    billing_gone = {**operator_env, "BILLING_URL": f"http://127.0.0.1:{closed_port()}"}
    screen = await cutover(billing_gone, "status")
    assert screen.exit_code == 5
    assert "unreachable" in screen.stdout and "ready" in screen.stdout
    assert screen.stderr == ""  # shown on the screen, not as an error


async def test_accounts_are_created_listed_shown_and_edited(
    system: System, operator_env: dict[str, str | None]
) -> None:
    name = f"Ada {uuid.uuid4().hex[:8]}"
    created = await cutover(
        operator_env, "accounts", "create", "--name", name, "--type", "residential"
    )
    assert (
        created.exit_code == 0 and "created" in created.stdout and "Residential" in created.stdout
    )
    parent = loaded(
        await cutover(
            operator_env,
            "accounts",
            "create",
            "--name",
            f"{name} parent",
            "--type",
            "Commercial",
            "--status",
            "Lead",
            "--json",
        )
    )
    assert parent["account_status_id"] == "00000000-0000-4000-8000-000000000001"

    listed = loaded(await cutover(operator_env, "accounts", "list", "-q", name, "--json"))
    account_id = next(item["id"] for item in listed["items"] if item["name"] == name)
    screen = await cutover(operator_env, "accounts", "list", "--search", name, "--sort", "-id")
    assert name in screen.stdout and "Residential" in screen.stdout

    edited = loaded(
        await cutover(
            operator_env,
            "accounts",
            "edit",
            account_id,
            "--name",
            f"{name} B",
            "--parent",
            parent["id"],
            "--json",
        )
    )
    assert edited["name"] == f"{name} B" and edited["parent_account_id"] == parent["id"]
    children = loaded(
        await cutover(operator_env, "accounts", "list", "--parent", parent["id"], "--json")
    )
    assert [child["id"] for child in children["items"]] == [account_id]
    unparented = loaded(
        await cutover(operator_env, "accounts", "edit", account_id, "--no-parent", "--json")
    )
    assert unparented["parent_account_id"] is None
    nothing = await cutover(operator_env, "accounts", "edit", account_id)
    assert nothing.exit_code == 2 and "Nothing to change" in nothing.output
    unknown_type = await cutover(operator_env, "accounts", "list", "--type", "Martian")
    assert unknown_type.exit_code == 2 and "Residential" in unknown_type.output

    shown = await cutover(operator_env, "accounts", "show", account_id)
    assert shown.exit_code == 0
    assert "History" in shown.stdout and "created" in shown.stdout and "edited" in shown.stdout
    document = loaded(await cutover(operator_env, "accounts", "show", account_id, "--json"))
    assert document["account"]["id"] == account_id
    assert [entry["change"] for entry in document["history"]][0] == "created"


async def test_disconnect_previews_asks_then_follows_to_the_final_invoice_and_released_address(
    system: System, operator_env: dict[str, str | None]
) -> None:
    async with (
        system.client("accounts") as accounts,
        system.client("billing") as billing,
        system.client("addresses") as addresses,
        system.client("scheduler") as scheduler,
    ):
        account = await new_account(accounts, name="Grace Hopper")
        child = await new_account(accounts, parent_account_id=account["id"])
        await debit(billing, account["id"], 1999)
        await debit(billing, account["id"], 4500)
        address = await new_address(addresses, line1=f"{uuid.uuid4().hex[:6]} Harbour Street")
        await attach(addresses, address["id"], account["id"])
        event = await schedule(
            scheduler, "change_account_status", account["id"], at(3600), account_status_id=ACTIVE
        )

        declined = await cutover(operator_env, "accounts", "disconnect", account["id"], input="n\n")
        assert declined.exit_code == 0 and "Nothing was done." in declined.stdout
        preview = declined.stdout
        for fact in (
            "Grace Hopper",
            "Inactive",
            "2 uninvoiced debit(s), total 64.99 USD",
            address["line1"],
            child["name"],
            event["id"],
            "stay active",
        ):
            assert fact in preview, fact
        assert ok(await accounts.get(f"/accounts/{account['id']}"))["account_status_id"] == ACTIVE

        confirmed = await cutover(
            operator_env,
            "accounts",
            "disconnect",
            account["id"],
            "--reason",
            "moving abroad",
            input="y\n",
        )
        assert confirmed.exit_code == 0, confirmed.output
        invoices = ok(await billing.get(f"/accounts/{account['id']}/invoices"))["items"]
        assert [invoice["kind"] for invoice in invoices] == ["final"]
        for fact in (
            f"Account {account['id']} disconnected",
            f"Final invoice #{invoices[0]['number']}",
            "19.99 USD",
            "45.00 USD",
            "64.99 USD",
            f"released address  {address['line1']}",
        ):
            assert fact in confirmed.stdout, fact
        released = ok(await addresses.get(f"/serviceable-addresses/{address['id']}"))
        assert released["account_id"] is None

        again = await cutover(operator_env, "accounts", "disconnect", account["id"], "--yes")
        assert again.exit_code == 1
        assert "Cannot disconnect" in again.stderr and "already disconnected" in again.stderr


async def test_disconnect_with_json_needs_yes_and_prints_the_apis_documents(
    system: System, operator_env: dict[str, str | None]
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
    refused = await cutover(operator_env, "accounts", "disconnect", account["id"], "--json")
    assert refused.exit_code == 2 and "--yes" in refused.output

    result = loaded(
        await cutover(operator_env, "accounts", "disconnect", account["id"], "--yes", "--json")
    )
    assert result["preview"]["account"]["id"] == account["id"]
    assert result["disconnect"]["state"] == "completed"
    assert result["disconnect"]["final_invoice_state"] == "not_required"
    assert result["final_invoice"] is None and result["released_address"] is None

    async with system.client("accounts") as accounts:
        nothing_owed = await new_account(accounts)
    screen = await cutover(operator_env, "accounts", "disconnect", nothing_owed["id"], "-y")
    assert "No final invoice needed" in screen.stdout
    assert "released address  none" in screen.stdout


async def test_disconnect_at_schedules_with_an_offset_or_a_local_time_and_its_zone(
    system: System, operator_env: dict[str, str | None]
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
    scheduled = loaded(
        await cutover(
            operator_env,
            "accounts",
            "disconnect",
            account["id"],
            "--at",
            "2031-01-02T09:00:00+01:00",
            "--reason",
            "end of lease",
            "--json",
        ),
    )
    assert scheduled["event_type"] == "disconnect_account"
    assert datetime.fromisoformat(scheduled["run_at"]) == datetime(2031, 1, 2, 8, tzinfo=UTC)
    assert scheduled["payload"] == {"reason": "end of lease"}

    local = await cutover(
        operator_env,
        "accounts",
        "disconnect",
        account["id"],
        "--at",
        "2031-07-01 09:00",
        "--tz",
        "Europe/Paris",
    )
    assert local.exit_code == 0
    assert "scheduled" in local.stdout and "2031-07-01 07:00:00 UTC" in local.stdout

    naive = await cutover(
        operator_env, "accounts", "disconnect", account["id"], "--at", "2031-07-01 09:00"
    )
    assert naive.exit_code == 2 and "no offset" in naive.output and "--tz" in naive.output
    skipped = await cutover(
        operator_env,
        "accounts",
        "disconnect",
        account["id"],
        "--at",
        "2031-03-30T02:30",
        "--tz",
        "Europe/Paris",
    )
    assert skipped.exit_code == 2 and "does not exist" in skipped.output
    past = await cutover(
        operator_env, "accounts", "disconnect", account["id"], "--at", "2020-01-01T00:00Z"
    )
    assert past.exit_code == 1 and "run-at-not-in-future" in past.stderr


async def test_reactivate_and_archive_show_the_apis_refusals_readably(
    system: System, operator_env: dict[str, str | None]
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        for command in ("reactivate", "archive"):
            refused = await cutover(operator_env, "accounts", command, account["id"])
            assert refused.exit_code == 1
            assert f"Account {account['id']} is not disconnected" in refused.stderr
            assert "(account-not-disconnected)" in refused.stderr

        await disconnect(accounts, account["id"])
        reactivated = await cutover(operator_env, "accounts", "reactivate", account["id"])
        assert reactivated.exit_code == 0
        assert f"Account {account['id']} reactivated: Active." in reactivated.stdout

        await disconnect(accounts, account["id"])
        archived = loaded(
            await cutover(operator_env, "accounts", "archive", account["id"], "--json")
        )
        assert archived["archived_at"] is not None and archived["account_status_id"] == INACTIVE
        hidden = await cutover(operator_env, "accounts", "list", "-q", account["name"])
        assert "Nothing matches." in hidden.stdout
        listed = await cutover(
            operator_env, "accounts", "list", "-q", account["name"], "--include-archived"
        )
        assert "archived (UTC)" in listed.stdout and account["name"] in listed.stdout
        problem = loaded(
            await cutover(operator_env, "accounts", "reactivate", account["id"], "--json"), 1
        )
        assert problem["status"] == 409 and problem["type"].startswith("urn:cutover:problem:")


async def test_events_are_listed_shown_changed_and_cancelled(
    system: System, operator_env: dict[str, str | None]
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
    event = loaded(
        await cutover(
            operator_env, "accounts", "disconnect", account["id"], "--at", at(3600), "--json"
        )
    )
    listed = loaded(
        await cutover(
            operator_env,
            "events",
            "list",
            "--account",
            account["id"],
            "--state",
            "pending",
            "--type",
            "disconnect_account",
            "--json",
        )
    )
    assert [item["id"] for item in listed["items"]] == [event["id"]]
    screen = await cutover(operator_env, "events", "list", "--account", account["id"])
    assert event["id"] in screen.stdout and "pending" in screen.stdout

    changed = await cutover(
        operator_env,
        "events",
        "change",
        event["id"],
        "--at",
        "2031-12-24 18:00",
        "--tz",
        "America/New_York",
        "--reason",
        "holidays",
    )
    assert changed.exit_code == 0
    assert "2031-12-24 23:00:00 UTC" in changed.stdout and "reason=holidays" in changed.stdout
    cancelled = await cutover(operator_env, "events", "cancel", event["id"])
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    again = await cutover(operator_env, "events", "cancel", event["id"])
    assert again.exit_code == 1 and "only a pending event" in again.stderr

    soon = loaded(
        await cutover(
            operator_env, "accounts", "disconnect", account["id"], "--at", at(1), "--json"
        )
    )
    async with system.client("scheduler") as scheduler:
        await event_in_state(scheduler, soon["id"], ("completed",))
    shown = await cutover(operator_env, "events", "show", soon["id"])
    assert shown.exit_code == 0
    for fact in ("minimum start time", "emitted", "lateness", " ms", "completed"):
        assert fact in shown.stdout, fact
    document = loaded(await cutover(operator_env, "events", "show", soon["id"], "--json"))
    assert document["lateness_ms"] >= 0 and document["emitted_at"] >= document["run_at"]


async def test_the_report_filters_and_sorts_each_table_on_its_own(
    system: System, operator_env: dict[str, str | None]
) -> None:
    tag = uuid.uuid4().hex[:8]
    async with system.client("accounts") as accounts:
        first = await new_account(accounts, name=f"{tag} Alpha")
        second = await new_account(
            accounts, name=f"{tag} Beta", account_type_id="00000000-0000-4000-8000-000000000102"
        )
        await disconnect(accounts, first["id"], reason="moved")
        await disconnect(accounts, second["id"])
    report = loaded(
        await cutover(
            operator_env,
            "report",
            "activations-disconnections",
            "--from",
            "2020-01-01",
            "--tz",
            "UTC",
            "--activations-search",
            tag,
            "--activations-sort",
            "-account_name",
            "--disconnections-search",
            tag,
            "--disconnections-type",
            "Commercial",
            "--json",
        )
    )
    assert [row["account_id"] for row in report["activations"]] == [second["id"], first["id"]]
    assert [row["account_id"] for row in report["disconnections"]] == [second["id"]]

    screen = await cutover(
        operator_env,
        "report",
        "activations-disconnections",
        "--activations-search",
        tag,
        "--disconnections-search",
        tag,
        "--disconnections-sort",
        "account_name",
    )
    assert screen.exit_code == 0
    assert "Activations (2)" in screen.stdout and "Disconnections (2)" in screen.stdout
    assert screen.stdout.index(f"{tag} Alpha") < screen.stdout.rindex(f"{tag} Beta")
    assert "moved" in screen.stdout


async def test_the_report_exports_one_table_whole_as_csv(
    system: System, operator_env: dict[str, str | None], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    async with system.client("accounts") as accounts:
        account = await new_account(accounts, name=f"{tag} Gamma")
        await disconnect(accounts, account["id"], reason="moved")
    out = tmp_path / "disconnections.csv"
    exported = await cutover(
        operator_env, "report", "export", "disconnections", "--search", tag, "-o", str(out)
    )
    assert exported.exit_code == 0, exported.output
    [row] = list(csv.DictReader(out.read_text().splitlines()))
    assert (row["account_id"], row["reason"], row["source"]) == (
        str(account["id"]),
        "moved",
        "manual",
    )
    assert "final_invoice_currency" in row
    to_stdout = await cutover(operator_env, "report", "export", "activations", "--search", tag)
    assert to_stdout.exit_code == 0 and f"{tag} Gamma" in to_stdout.stdout


async def test_each_failure_class_has_its_exit_code_and_no_traceback(
    system: System, operator_env: dict[str, str | None]
) -> None:
    missing = await cutover(operator_env, "accounts", "show", 2**62)
    assert missing.exit_code == 3 and "does not exist" in missing.stderr

    wrong_token = {**operator_env, "CUTOVER_API_TOKEN": "not-the-token"}
    auth = await cutover(wrong_token, "accounts", "list")
    assert auth.exit_code == 4 and "token is not valid" in auth.stderr
    assert "CUTOVER_API_TOKEN" in auth.stderr

    nowhere = {**operator_env, "ACCOUNTS_URL": f"http://127.0.0.1:{closed_port()}"}
    unreachable = await cutover(nowhere, "accounts", "show", 1)
    assert unreachable.exit_code == 5 and "Service unreachable" in unreachable.stderr
    problem = loaded(await cutover(nowhere, "accounts", "show", 1, "--json"), 5)
    assert problem["type"] == "urn:cutover:cli:unreachable"

    invalid = loaded(await cutover(operator_env, "events", "show", "not-a-uuid", "--json"), 1)
    assert invalid["status"] == 422 and invalid["errors"]

    usage = await cutover(operator_env, "accounts", "show", "abc")
    assert usage.exit_code == 2

    # The installed command, as a process: the same message, the same code, no traceback.
    env = {**os.environ, **{k: v for k, v in nowhere.items() if v is not None}}
    process = await asyncio.create_subprocess_exec(
        CUTOVER,
        "events",
        "list",
        env={**env, "SCHEDULER_URL": env["ACCOUNTS_URL"]},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 5, stderr
    assert b"Service unreachable" in stderr and b"Traceback" not in stderr


async def test_a_config_file_gives_the_urls_and_token_and_the_environment_wins(
    system: System, operator_env: dict[str, str | None], tmp_path: Path
) -> None:
    config = tmp_path / "cutover.toml"
    config.write_text(
        "".join(f'{name}_url = "{service.url}"\n' for name, service in system.services.items())
        + f'api_token = "{TEST_TOKEN}"\n'
    )
    only_file = {key: None for key in operator_env if key.endswith(("_URL", "_TOKEN"))}
    listed = await cutover({**operator_env, **only_file}, "--config", config, "events", "list")
    assert listed.exit_code == 0, listed.output
    by_variable = {**operator_env, **only_file, "CUTOVER_CONFIG": str(config)}
    assert (await cutover(by_variable, "events", "list")).exit_code == 0

    config.write_text(config.read_text().replace(TEST_TOKEN, "stale-token"))
    assert (await cutover(by_variable, "events", "list")).exit_code == 4
    env_wins = {**by_variable, "CUTOVER_API_TOKEN": TEST_TOKEN}
    assert (await cutover(env_wins, "events", "list")).exit_code == 0

    missing = await cutover(operator_env, "--config", tmp_path / "nope.toml", "status")
    assert missing.exit_code == 2 and "does not exist" in missing.output


async def test_bulk_disconnect_resumes_after_ctrl_c_and_disconnects_nobody_twice(
    system: System, operator_env: dict[str, str | None], tmp_path: Path
) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        ids = [(await new_account(accounts))["id"] for _ in range(24)]
        await asyncio.gather(*(debit(billing, account_id, 1000) for account_id in ids))
    sheet = tmp_path / "accounts.csv"
    sheet.write_text("account_id\n" + "".join(f"{account_id}\n" for account_id in ids))
    progress = tmp_path / "accounts.csv.cutover-progress.jsonl"

    env = {**os.environ, **{k: v for k, v in operator_env.items() if v is not None}}
    interrupted = await asyncio.create_subprocess_exec(
        CUTOVER,
        *("bulk", "disconnect", "--file", str(sheet), "--reason", "bulk", "--concurrency", "1"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # An operator's terminal delivers Ctrl-C to a CLI whose SIGINT is at its default. A suite
        # started in the background by a shell without job control inherits SIGINT ignored, and
        # Python keeps it ignored: the CLI then never hears the Ctrl-C and runs to the end.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    async def some_rows_done() -> bool:
        assert interrupted.returncode is None, "the run ended before it could be interrupted"
        return progress.exists() and len(progress.read_text().splitlines()) >= 3

    await wait_until(some_rows_done, within=20, interval=0.005)
    interrupted.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = await asyncio.wait_for(interrupted.communicate(), 20)
    assert interrupted.returncode == 130, stderr
    assert b"Interrupted" in stderr and b"Traceback" not in stderr
    recorded = progress.read_text().splitlines()
    assert 3 <= len(recorded) < len(ids)
    # The last answer is lost as if the crash came between the API's answer and the record: the
    # rerun sends that row again, and its Idempotency-Key replays the first answer.
    progress.write_text("\n".join(recorded[:-1]) + "\n")

    resumed = await cutover(
        operator_env, "bulk", "disconnect", "--file", sheet, "--reason", "bulk", "--json"
    )
    summary = loaded(resumed)
    assert summary["done_in_an_earlier_run"] == len(recorded) - 1
    assert len(summary["succeeded"]) == len(ids)
    assert summary["refused"] == [] and summary["failed"] == []
    rerun = loaded(
        await cutover(
            operator_env, "bulk", "disconnect", "--file", sheet, "--reason", "bulk", "--json"
        )
    )
    assert rerun["done_in_an_earlier_run"] == len(ids)

    async with system.client("accounts") as accounts, system.client("billing") as billing:
        for account_id in ids:
            requests = ok(await accounts.get(f"/accounts/{account_id}/disconnects"))["items"]
            assert len(requests) == 1, requests
            await completed_disconnect(accounts, requests[0]["id"])
            invoices = ok(await billing.get(f"/accounts/{account_id}/invoices"))["items"]
            assert [invoice["kind"] for invoice in invoices] == ["final"], invoices


async def test_bulk_schedules_from_an_at_column_and_reports_refusals(
    system: System, operator_env: dict[str, str | None], tmp_path: Path
) -> None:
    async with system.client("accounts") as accounts:
        first, second = [(await new_account(accounts))["id"] for _ in range(2)]
    sheet = tmp_path / "later.csv"
    sheet.write_text(
        "account_id,reason,at\n"
        f"{first},,2031-05-01T08:00:00+02:00\n"
        f"{second},relocation,2031-05-02 08:00\n"
        f"{2**62},,\n"
        f"{first},,2020-01-01 00:00\n"
    )
    args = (
        "bulk",
        "disconnect",
        "--file",
        sheet,
        "--tz",
        "Europe/Paris",
        "--at",
        "2031-06-01 08:00",
    )
    screen = await cutover(operator_env, *args)
    assert screen.exit_code == 1, screen.output
    assert "Refused" in screen.stdout and "does not exist" in screen.stdout
    assert "is not in the future" in screen.stdout
    summary = loaded(await cutover(operator_env, *args, "--json"), 1)
    assert len(summary["succeeded"]) == 2 and len(summary["refused"]) == 2

    async with system.client("scheduler") as scheduler:
        events = {
            account_id: ok(
                await scheduler.get("/scheduled-events", params={"account_id": account_id})
            )["items"]
            for account_id in (first, second)
        }
    assert [event["run_at"] for event in events[first]] == ["2031-05-01T06:00:00Z"]
    assert [(event["run_at"], event["payload"]) for event in events[second]] == [
        ("2031-05-02T06:00:00Z", {"reason": "relocation"})
    ]

    unknown_column = tmp_path / "bad.csv"
    unknown_column.write_text("account,reason\n1,x\n")
    bad = await cutover(operator_env, "bulk", "disconnect", "--file", unknown_column)
    assert bad.exit_code == 2 and "account_id" in bad.output


async def test_bulk_retries_failed_rows_and_stops_at_once_on_a_wrong_token(
    system: System, operator_env: dict[str, str | None], tmp_path: Path
) -> None:
    async with system.client("accounts") as accounts:
        ids = [(await new_account(accounts))["id"] for _ in range(2)]
    sheet = tmp_path / "retry.csv"
    sheet.write_text("account_id\n" + "".join(f"{account_id}\n" for account_id in ids))

    wrong_token = {**operator_env, "CUTOVER_API_TOKEN": "not-the-token"}
    auth = await cutover(wrong_token, "bulk", "disconnect", "--file", sheet)
    assert auth.exit_code == 4 and "token is not valid" in auth.stderr
    assert "Bulk disconnect" not in auth.stdout

    nowhere = {**operator_env, "ACCOUNTS_URL": f"http://127.0.0.1:{closed_port()}"}
    failed = loaded(await cutover(nowhere, "bulk", "disconnect", "--file", sheet, "--json"), 5)
    assert [row["account_id"] for row in failed["failed"]] == ids
    assert "did not answer" in failed["failed"][0]["detail"]

    retried = loaded(await cutover(operator_env, "bulk", "disconnect", "--file", sheet, "--json"))
    assert retried["done_in_an_earlier_run"] == 0
    assert sorted(row["account_id"] for row in retried["succeeded"]) == ids
    assert retried["failed"] == []


async def test_a_bad_record_becomes_dead_letters_that_are_listed_shown_and_settled(
    system: System, operator_env: dict[str, str | None]
) -> None:
    # Given a record no consumer of the topic can decode
    topic = ACCOUNT_CREATED.name
    tag = uuid.uuid4().hex
    original = f"{{not json {tag}".encode()
    producer = AIOKafkaProducer(**system.infra.kafka_options())
    await producer.start()
    try:
        await producer.send_and_wait(topic, original, key=tag.encode())
    finally:
        await producer.stop()

    # When the operator lists the open dead letters of that topic, on all four services
    async def on_every_consumer() -> list[dict[str, Any]] | None:
        listed = loaded(
            await cutover(operator_env, "dlq", "list", "--topic", topic, "--limit", 500, "--json")
        )
        ours = [item for item in listed["items"] if tag in (item["value_preview"] or "")]
        return (
            ours if {item["service"] for item in ours} == set(ACCOUNT_CREATED.consumers) else None
        )

    letters = await wait_until(on_every_consumer, within=30)

    # Then each service that consumes the topic holds it, open, with the original
    assert {item["service"] for item in letters} == set(ACCOUNT_CREATED.consumers)
    letter = letters[0]
    assert letter["state"] == "open" and letter["topic"] == topic
    assert letter["value_preview"] == original.decode() and letter["size"] == len(original)
    screen = await cutover(operator_env, "dlq", "list", "--topic", topic)
    assert screen.exit_code == 0, screen.output
    assert "service" in screen.stdout and letter["id"] in screen.stdout

    shown = await cutover(operator_env, "dlq", "show", letter["id"])
    assert shown.exit_code == 0, shown.output
    assert letter["service"] in shown.stdout and tag in shown.stdout

    # A redrive fails (the original still cannot be decoded) and leaves it open
    failed = await cutover(operator_env, "dlq", "redrive", letter["id"])
    assert failed.exit_code == 1 and "stays open" in failed.stderr
    still = loaded(await cutover(operator_env, "dlq", "show", letter["id"], "--json"))
    assert still["state"] == "open"

    # A discard settles it, once
    discarded = await cutover(
        operator_env, "dlq", "discard", letter["id"], "--reason", "e2e: a test record"
    )
    assert discarded.exit_code == 0, discarded.output
    assert f"discarded on {letter['service']}" in discarded.stdout
    settled = loaded(
        await cutover(
            operator_env, "dlq", "show", letter["id"], "--service", letter["service"], "--json"
        )
    )
    assert settled["state"] == "discarded" and settled["discard_reason"] == "e2e: a test record"
    again = await cutover(operator_env, "dlq", "discard", letter["id"], "--reason", "twice")
    assert again.exit_code == 1 and "dead-letter-not-open" in again.stderr
    listed = loaded(
        await cutover(
            operator_env,
            "dlq",
            "list",
            "--service",
            letter["service"],
            "--state",
            "discarded",
            "--topic",
            topic,
            "--limit",
            500,
            "--json",
        )
    )
    assert letter["id"] in [item["id"] for item in listed["items"]]

    for other in letters[1:]:
        settled_too = await cutover(
            operator_env, "dlq", "discard", other["id"], "--service", other["service"],
            "--reason", "e2e: a test record",
        )  # fmt: skip
        assert settled_too.exit_code == 0, settled_too.output
    missing = await cutover(operator_env, "dlq", "show", str(uuid.uuid4()))
    assert missing.exit_code == 3 and "No service has dead letter" in missing.stderr


async def test_stalled_disconnects_are_listed_and_a_finished_or_unknown_one_is_refused(
    system: System, operator_env: dict[str, str | None]
) -> None:
    screen = await cutover(operator_env, "disconnects", "stalled")
    assert screen.exit_code == 0, screen.output
    assert "deadline (UTC)" in screen.stdout or "Nothing matches." in screen.stdout
    page = loaded(await cutover(operator_env, "disconnects", "stalled", "--json"))
    assert all(item["state"] == "stalled" and item["stalled_steps"] for item in page["items"])

    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        completed = await disconnect(accounts, account["id"])
    retried = await cutover(operator_env, "disconnects", "retry", completed["id"])
    assert retried.exit_code == 1 and "disconnect-not-pending" in retried.stderr
    declined = await cutover(
        operator_env, "disconnects", "abandon", completed["id"], "--reason", "x", input="n\n"
    )
    assert declined.exit_code == 0 and "completed" in declined.stdout
    assert "Nothing was done." in declined.stdout
    refused = loaded(
        await cutover(
            operator_env, "disconnects", "abandon", completed["id"], "--reason", "x", "-y", "--json"
        ),
        1,
    )
    assert refused["type"] == "urn:cutover:problem:disconnect-not-pending"

    unknown = str(uuid.uuid4())
    assert (await cutover(operator_env, "disconnects", "retry", unknown)).exit_code == 3
    for yes in ((), ("--yes",)):
        abandoned = await cutover(
            operator_env, "disconnects", "abandon", unknown, "--reason", "x", *yes
        )
        assert abandoned.exit_code == 3, abandoned.output
