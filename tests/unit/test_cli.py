"""The operator CLI's pure parts, without a running system: times, metrics, CSV rows and their
Idempotency-Keys, the progress file, configuration, exit codes, and the top-level error guard."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from cutover_cli import client
from cutover_cli.bulk import Ledger, read_rows
from cutover_cli.catalog import Catalog
from cutover_cli.config import load
from cutover_cli.disconnect import follow, preview_details
from cutover_cli.errors import ExitCode, Problem, exit_code_for
from cutover_cli.main import app
from cutover_cli.output import money, printable
from cutover_cli.status import parse_metrics
from cutover_cli.timeparse import parse_when

PARIS_WINTER = timedelta(hours=1)


# --- times ----------------------------------------------------------------------------------------


def test_a_time_with_an_offset_is_taken_as_it_is() -> None:
    assert parse_when("2027-01-01T09:00:00+01:00", None) == datetime(2027, 1, 1, 8, tzinfo=UTC)
    assert parse_when("2027-01-01T08:00Z", "Europe/Paris") == datetime(2027, 1, 1, 8, tzinfo=UTC)


def test_a_local_time_needs_its_zone() -> None:
    local = parse_when("2027-01-01 09:00", "Europe/Paris")
    assert local.utcoffset() == PARIS_WINTER and local == datetime(2027, 1, 1, 8, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="no offset"):
        parse_when("2027-01-01 09:00", None)
    with pytest.raises(typer.BadParameter, match="not a time zone"):
        parse_when("2027-01-01 09:00", "Mars/Olympus_Mons")
    with pytest.raises(typer.BadParameter, match="not an ISO 8601 time"):
        parse_when("next tuesday", "UTC")


def test_a_local_time_skipped_or_repeated_by_daylight_saving_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="does not exist"):
        parse_when("2027-03-28T02:30", "Europe/Paris")
    with pytest.raises(typer.BadParameter, match="happens twice"):
        parse_when("2027-10-31T02:30", "Europe/Paris")


# --- metrics --------------------------------------------------------------------------------------

METRICS = """\
# HELP cutover_outbox_backlog Outbox events committed but not yet published
# TYPE cutover_outbox_backlog gauge
cutover_outbox_backlog 3.0
# HELP cutover_consumer_lag Records behind
# TYPE cutover_consumer_lag gauge
cutover_consumer_lag{group="accounts-answers",topic="billing.disconnect-billed.v1"} 2.0
cutover_consumer_lag{group="accounts-answers",topic="addresses.disconnect-address-released.v1"} 5.0
cutover_consumer_lag{group="accounts-due",topic="scheduler.scheduled-event-due.v1"} 0.0
# HELP cutover_scheduler_emitted_total Scheduled events emitted to Kafka
# TYPE cutover_scheduler_emitted_total counter
cutover_scheduler_emitted_total 12.0
cutover_scheduler_emitted_created 1.7e9
# HELP cutover_scheduler_last_lateness_seconds Lateness of the latest event emitted
# TYPE cutover_scheduler_last_lateness_seconds gauge
cutover_scheduler_last_lateness_seconds 0.0125
# HELP cutover_scheduler_due_backlog Pending events whose run_at has passed
# TYPE cutover_scheduler_due_backlog gauge
cutover_scheduler_due_backlog 7.0
"""


def test_the_status_gauges_are_read_from_prometheus_text() -> None:
    assert parse_metrics(METRICS) == {
        "outbox_backlog": 3,
        "consumer_lag": {
            "accounts-answers": {
                "billing.disconnect-billed.v1": 2,
                "addresses.disconnect-address-released.v1": 5,
            },
            "accounts-due": {"scheduler.scheduled-event-due.v1": 0},
        },
        "scheduler_due_backlog": 7,
        "scheduler_last_lateness_seconds": 0.0125,
        "scheduler_emitted_total": 12,
    }
    assert parse_metrics("")["outbox_backlog"] is None


# --- bulk rows, keys and progress -----------------------------------------------------------------


def sheet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(text)
    return path


def test_rows_take_the_options_as_defaults_and_get_stable_keys(tmp_path: Path) -> None:
    path = sheet(tmp_path, "account_id,reason,at\n1,,\n2,moving,2027-01-01 09:00\n")
    default_at = datetime(2027, 6, 1, tzinfo=UTC)
    rows = read_rows(path, "churn", default_at, "Europe/Paris")
    assert [(row.line, row.account_id, row.reason) for row in rows] == [
        (2, 1, "churn"),
        (3, 2, "moving"),
    ]
    assert rows[0].run_at == default_at and rows[1].run_at == datetime(2027, 1, 1, 8, tzinfo=UTC)
    assert read_rows(path, "churn", default_at, "Europe/Paris") == rows
    assert len({row.key for row in rows}) == 2

    other_reason = read_rows(path, "other", default_at, "Europe/Paris")
    assert other_reason[0].key != rows[0].key and other_reason[1].key == rows[1].key
    path.write_text(path.read_text() + "3,,\n")  # an edited file is a new batch
    assert read_rows(path, "churn", default_at, "Europe/Paris")[0].key != rows[0].key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("account,reason\n1,x\n", "header must name account_id"),
        ("account_id,name\n1,x\n", "header must name account_id"),
        ("account_id\n1\nabc\n", "line 3: account_id 'abc'"),
        ("account_id\n0\n", "line 2: account_id '0'"),
        ("account_id,at\n1,2027-01-01 09:00\n", "no offset"),
    ],
)
def test_a_bad_sheet_is_a_usage_error_naming_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(typer.BadParameter, match=message):
        read_rows(sheet(tmp_path, text), None, None, None)


def test_the_progress_file_survives_a_line_cut_short(tmp_path: Path) -> None:
    rows = read_rows(sheet(tmp_path, "account_id\n1\n2\n3\n"), None, None, None)
    ledger = Ledger(tmp_path / "progress.jsonl")
    ledger.record({"key": rows[0].key, "outcome": "succeeded"})
    ledger.record({"key": rows[1].key, "outcome": "failed"})
    with ledger.path.open("a") as file:
        file.write('{"key": "' + rows[2].key)  # the crash came mid-write

    again = Ledger(ledger.path)
    assert [again.done(row) for row in rows] == [True, False, False]


# --- configuration --------------------------------------------------------------------------------


def test_the_environment_beats_the_file_and_the_file_beats_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no default file
    path = tmp_path / "config.toml"
    path.write_text('billing_url = "https://billing.example/"\napi_token = "from-file"\n')
    config = load(path, {"CUTOVER_API_TOKEN": "from-env", "SCHEDULER_URL": "http://s:1"})
    assert config.token == "from-env"
    assert config.urls == {
        "accounts": "http://127.0.0.1:8001",
        "billing": "https://billing.example",
        "addresses": "http://127.0.0.1:8003",
        "scheduler": "http://s:1",
    }
    assert load(None, {}).token is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('acounts_url = "http://x"\n', "unknown key"),
        ("api_token = 42\n", "must be strings"),
        ("api_token = \n", "config.toml"),
        ('accounts_url = "localhost:8001"\n', "must start with http"),
    ],
)
def test_a_bad_config_file_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(typer.BadParameter, match=message):
        load(path, {})
    with pytest.raises(typer.BadParameter, match="does not exist"):
        load(tmp_path / "missing.toml", {})


# --- problems and exit codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (409, ExitCode.REFUSED),
        (422, ExitCode.REFUSED),
        (404, ExitCode.NOT_FOUND),
        (401, ExitCode.AUTH),
        (403, ExitCode.AUTH),
        (500, ExitCode.UNREACHABLE),
        (503, ExitCode.UNREACHABLE),
        (400, ExitCode.CLIENT_ERROR),
        (405, ExitCode.CLIENT_ERROR),
        (413, ExitCode.CLIENT_ERROR),
    ],
)
def test_each_status_has_its_exit_code(status: int, code: ExitCode) -> None:
    assert exit_code_for(status) == code


def test_an_answer_that_is_not_a_problem_document_is_wrapped() -> None:
    problem = Problem.of_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert problem.exit_code == ExitCode.UNREACHABLE
    assert problem.document["title"] == "Bad Gateway" and "html" in problem.document["detail"]


def test_a_server_error_names_its_service_and_when_to_retry_on_the_screen_only() -> None:
    unavailable = httpx.Response(
        503,
        json={"type": "urn:cutover:problem:peer-unavailable", "title": "Service Unavailable"},
        headers={"Retry-After": "5"},
    )
    problem = Problem.of_response(unavailable, "billing")
    assert problem.exit_code == ExitCode.UNREACHABLE
    assert problem.hint == "billing answered 503; try again in 5 s."
    assert "hint" not in problem.document  # --json prints the API's document as it came
    assert Problem.of_response(httpx.Response(409, json={"title": "x"}), "billing").hint is None


def test_text_from_outside_cannot_drive_the_terminal() -> None:
    hostile = "ok\x1b]0;owned\x07 \x1b[31mred\r\u202egnp.exe [/bold]\nline two\tend"
    assert printable(hostile).plain == (
        "ok\\x1b]0;owned\\x07 \\x1b[31mred\\x0d\\u202egnp.exe [/bold]\nline two\tend"
    )
    assert printable("\ud800").plain == "\\ud800"  # a lone surrogate would not even encode
    assert printable(None).plain == printable("").plain == "—"


def test_money_is_written_in_the_currencys_minor_unit() -> None:
    assert money(6499, "USD") == "64.99 USD"
    assert money(5, "EUR") == "0.05 EUR"
    assert money(1500, "JPY") == "1500 JPY"
    assert money(1500, "KWD") == "1.500 KWD"


def test_following_a_disconnect_gives_up_after_the_timeout_with_exit_code_7() -> None:
    pending = {
        "id": "d1",
        "account_id": 42,
        "state": "pending",
        "final_invoice_state": "issued",
        "address_state": "pending",
    }

    class StuckApi:
        def get(self, service: str, path: str) -> dict[str, Any]:
            return pending

    with pytest.raises(Problem) as raised:
        follow(StuckApi(), pending, timeout=0.3, spinner_on=None)  # type: ignore[arg-type]
    assert raised.value.exit_code == ExitCode.STILL_RUNNING
    assert "address pending" in raised.value.document["detail"]


# --- the command line as a whole --------------------------------------------------------------------

runner = CliRunner()


def invoke(tmp_path: Path, *args: str) -> Any:
    env = {"HOME": str(tmp_path), "CUTOVER_CONFIG": None, "COLUMNS": "200"}
    return runner.invoke(app, list(args), env=env)


def test_help_names_every_command_and_the_exit_codes(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--help")
    assert result.exit_code == 0
    for text in ("status", "accounts", "events", "report", "bulk", "Exit codes", "130"):
        assert text in result.stdout
    for group, commands in {
        "accounts": ("list", "show", "create", "edit", "disconnect", "reactivate", "archive"),
        "events": ("list", "show", "change", "cancel"),
        "report": ("activations-disconnections",),
        "bulk": ("disconnect",),
    }.items():
        listed = invoke(tmp_path, group, "--help").stdout
        assert all(command in listed for command in commands), listed


def test_an_unexpected_error_is_one_line_and_exit_code_8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("something the CLI did not expect")

    monkeypatch.setattr(client.Api, "request", broken)
    screen = invoke(tmp_path, "status")
    assert screen.exit_code == ExitCode.BUG
    assert "Unexpected error in the CLI: RuntimeError: something" in screen.stderr
    assert "Traceback" not in screen.output

    document = json.loads(invoke(tmp_path, "status", "--json").stdout)
    assert document["type"] == "urn:cutover:cli:unexpected-error"


def test_a_preview_with_a_service_down_says_which_parts_are_unknown() -> None:
    preview = {
        "account": {
            "id": 42,
            "name": "Grace Hopper",
            "account_type_id": "t",
            "account_status_id": "s",
        },
        "disconnect_status": {"name": "Inactive"},
        "uninvoiced_debits": None,
        "serviceable_address": None,
        "children_staying_active": [],
        "pending_scheduled_events": None,
        "unavailable": {"billing": "billing did not answer: timeout", "scheduler": "refused"},
        "warnings": ["billing did not answer: its part of this preview is missing."],
    }
    console = Console(record=True, width=200)
    console.print(preview_details(preview, Catalog({"s": "Active"}, {"t": "Residential"})))
    screen = console.export_text()
    assert "42  Grace Hopper (Residential, Active)" in screen
    assert "final invoice             unknown: billing did not answer: timeout" in screen
    assert "address released          none: no serviceable address" in screen
    assert "pending scheduled events  unknown: refused" in screen
    assert "warning                   billing did not answer" in screen
