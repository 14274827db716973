"""The operator CLI without a running system: its pure parts (times, metrics, CSV rows and their
Idempotency-Keys, the progress file, configuration, exit codes, the top-level error guard), and the
dead-letter and disconnect commands against canned answers given in place of the APIs."""

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
from cutover_cli.config import SERVICES, load
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


def invoke(tmp_path: Path, *args: str, input: str | None = None) -> Any:
    env = {"HOME": str(tmp_path), "CUTOVER_CONFIG": None, "COLUMNS": "200"}
    return runner.invoke(app, list(args), env=env, input=input)


def test_help_names_every_command_and_the_exit_codes(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--help")
    assert result.exit_code == 0
    for text in (
        "status",
        "accounts",
        "events",
        "report",
        "bulk",
        "dlq",
        "disconnects",
        "Exit codes",
        "130",
    ):
        assert text in result.stdout
    for group, commands in {
        "accounts": ("list", "show", "create", "edit", "disconnect", "reactivate", "archive"),
        "events": ("list", "show", "change", "cancel"),
        "report": ("activations-disconnections",),
        "bulk": ("disconnect",),
        "dlq": ("list", "show", "redrive", "discard"),
        "disconnects": ("stalled", "retry", "abandon"),
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


# --- dead letters and stalled disconnects, against answers given in place of the APIs -------------

NOT_FOUND = {"type": "urn:cutover:problem:not-found", "title": "Not Found", "status": 404}
LETTER_ID = "7d0f3c5e-2a6b-4b1e-9a43-0c2f8e1d5a10"
DISCONNECT_ID = "3b9e1f0a-5c7d-4e2a-8f61-9d4c2b7a1e05"


class FakeApis:
    """The four APIs as canned answers in place of `Api.request`, the one place the CLI sends a
    request: (service, method, path) → status, body, headers; unknown paths are 404; a service that
    is `down` does not answer at all. Every request is recorded with its query and body."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str, str], tuple[int, Any, dict[str, str]]] = {}
        self.down: set[str] = set()
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []

    def on(
        self, service: str, method: str, path: str, body: Any, status: int = 200, **headers: str
    ) -> None:
        self.answers[(service, method, path)] = (status, body, headers)

    def problem(
        self, service: str, method: str, path: str, status: int, code: str, detail: str = ""
    ) -> None:
        title = {404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}.get(status, "")
        document = {"type": f"urn:cutover:problem:{code}", "title": title or "Service Unavailable"}
        self.on(service, method, path, {**document, "status": status, "detail": detail}, status)

    def request(
        self, api: client.Api, service: str, method: str, path: str, **options: Any
    ) -> httpx.Response:
        self.calls.append((service, method, path, options))
        with client.reaching(service, api.config.urls[service]):
            if service in self.down:
                raise httpx.ConnectError("[Errno 111] Connection refused")
        status, body, headers = self.answers.get((service, method, path), (404, NOT_FOUND, {}))
        return httpx.Response(status, json=body, headers=headers)

    def asked(self, method: str, path: str) -> list[tuple[str, dict[str, Any]]]:
        return [(s, options) for s, m, p, options in self.calls if (m, p) == (method, path)]


@pytest.fixture
def apis(monkeypatch: pytest.MonkeyPatch) -> FakeApis:
    fake = FakeApis()
    monkeypatch.setattr(
        client.Api, "request", lambda api, *args, **kw: fake.request(api, *args, **kw)
    )
    return fake


def letter(**fields: Any) -> dict[str, Any]:
    return {
        "id": LETTER_ID,
        "consumer": "billing-accounts",
        "topic": "accounts.account-created.v1",
        "partition": 2,
        "offset": 41,
        "key": "42",
        "reason": "undecodable: Expecting property name enclosed in double quotes",
        "received_at": "2027-01-01T09:00:00Z",
        "state": "open",
        "size": 9,
        "sha256": "ab" * 32,
        "attempts": 1,
        "event_id": None,
        "state_changed_at": None,
        "state_changed_by": None,
        "discard_reason": None,
        "value_preview": "{not json",
        "truncated": False,
        **fields,
    }


def stalled_disconnect(**fields: Any) -> dict[str, Any]:
    return {
        "id": DISCONNECT_ID,
        "account_id": 42,
        "source": "manual",
        "scheduled_event_id": None,
        "reason": "moving abroad",
        "state": "stalled",
        "requested_at": "2027-01-01T09:00:00Z",
        "completed_at": None,
        "status_id": "00000000-0000-4000-8000-000000000003",
        "final_invoice": None,
        "final_invoice_state": "pending",
        "address_state": "released",
        "released_address_id": None,
        "deadline_at": "2027-01-01T09:05:00Z",
        "stalled_steps": ["final_invoice"],
        "retries": 0,
        "abandoned_at": None,
        "abandon_reason": None,
        **fields,
    }


def page(*items: dict[str, Any], next_cursor: str | None = None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": next_cursor}


def test_dead_letters_of_the_four_services_are_one_table_newest_first(
    tmp_path: Path, apis: FakeApis
) -> None:
    older = letter(id="00000000-0000-4000-8000-00000000000a", received_at="2027-01-01T08:00:00Z")
    newer = letter(id="00000000-0000-4000-8000-00000000000b", received_at="2027-01-02T08:00:00Z")
    relay = letter(
        id="00000000-0000-4000-8000-00000000000c",
        consumer="outbox-relay",
        topic="accounts.account-disconnected.v1",
        partition=None,
        offset=None,
        key=None,
        received_at="2027-01-01T12:00:00+01:00",
    )
    apis.on("billing", "GET", "/dead-letters", page(older))
    apis.on("scheduler", "GET", "/dead-letters", page(newer))
    apis.on("accounts", "GET", "/dead-letters", page(relay))
    apis.on("addresses", "GET", "/dead-letters", page())

    screen = invoke(tmp_path, "dlq", "list", "--topic", "accounts.account-created.v1")
    assert screen.exit_code == 0, screen.output
    asked = apis.asked("GET", "/dead-letters")
    assert [service for service, _ in asked] == ["accounts", "billing", "addresses", "scheduler"]
    assert all(
        options["params"] == {"state": "open", "topic": "accounts.account-created.v1", "limit": 50}
        for _, options in asked
    )
    header = screen.stdout.splitlines()[0].split()
    assert header[:3] == ["service", "id", "received"] and "consumer" in header
    at = [screen.stdout.index(item["id"]) for item in (newer, relay, older)]
    assert at == sorted(at)
    assert "outbox-relay" in screen.stdout
    assert "2027-01-01 11:00:00" in screen.stdout  # in UTC, like every time the CLI shows

    document = json.loads(invoke(tmp_path, "dlq", "list", "--json").stdout)
    assert [(item["service"], item["id"]) for item in document["items"]] == [
        ("scheduler", newer["id"]),
        ("accounts", relay["id"]),
        ("billing", older["id"]),
    ]
    assert document["more"] is False and document["unavailable"] == {}


def test_dead_letters_beyond_the_limit_are_said_to_exist(tmp_path: Path, apis: FakeApis) -> None:
    for service in SERVICES:
        apis.on(service, "GET", "/dead-letters", page())
    apis.on(
        "billing",
        "GET",
        "/dead-letters",
        page(letter(), letter(received_at="2027-01-03T00:00:00Z")),
    )
    screen = invoke(tmp_path, "dlq", "list", "--limit", "1")
    assert screen.exit_code == 0, screen.output
    assert "2027-01-03" in screen.stdout and "2027-01-01" not in screen.stdout
    assert "More dead letters than shown" in screen.stdout
    assert json.loads(invoke(tmp_path, "dlq", "list", "--limit", "1", "--json").stdout)["more"]


def test_a_service_that_does_not_answer_is_named_and_the_others_still_listed(
    tmp_path: Path, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "/dead-letters", page(letter()))
    apis.on("billing", "GET", "/dead-letters", page())
    apis.down.add("addresses")
    apis.on(
        "scheduler",
        "GET",
        "/dead-letters",
        {
            "type": "urn:cutover:problem:temporarily-unavailable",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The database could not complete the request; nothing was changed. Retry.",
        },
        503,
        **{"Retry-After": "1"},
    )

    screen = invoke(tmp_path, "dlq", "list")
    assert screen.exit_code == ExitCode.UNREACHABLE
    assert LETTER_ID in screen.stdout
    assert (
        "addresses's dead letters are missing: addresses at http://127.0.0.1:8003 did not answer"
        in screen.stderr
    )
    assert "scheduler's dead letters are missing: The database could not complete" in screen.stderr
    assert "scheduler answered 503; try again in 1 s" in screen.stderr
    assert "Traceback" not in screen.output

    as_json = invoke(tmp_path, "dlq", "list", "--json")
    assert as_json.exit_code == ExitCode.UNREACHABLE and as_json.stderr == ""
    document = json.loads(as_json.stdout)
    assert [item["id"] for item in document["items"]] == [LETTER_ID]
    assert document["unavailable"]["addresses"]["type"] == "urn:cutover:cli:unreachable"
    assert document["unavailable"]["scheduler"]["status"] == 503


def test_no_service_answering_the_list_is_one_unreachable_problem(
    tmp_path: Path, apis: FakeApis
) -> None:
    apis.down.update(SERVICES)
    screen = invoke(tmp_path, "dlq", "list")
    assert screen.exit_code == ExitCode.UNREACHABLE and screen.stdout == ""
    assert "No service answered" in screen.stderr and "scheduler: scheduler at" in screen.stderr


def test_one_services_dead_letters_are_its_apis_page(tmp_path: Path, apis: FakeApis) -> None:
    apis.on("billing", "GET", "/dead-letters", page(letter(state="discarded"), next_cursor="c2"))
    screen = invoke(
        tmp_path, "dlq", "list", "--service", "billing", "--state", "discarded", "--cursor", "c1"
    )
    assert screen.exit_code == 0, screen.output
    assert apis.asked("GET", "/dead-letters") == [
        ("billing", {"params": {"state": "discarded", "limit": 50, "cursor": "c1"}})
    ]
    assert "billing" in screen.stdout and "More: --cursor c2" in screen.stdout
    document = json.loads(invoke(tmp_path, "dlq", "list", "--service", "billing", "--json").stdout)
    assert document == page(letter(state="discarded"), next_cursor="c2")

    assert invoke(tmp_path, "dlq", "list", "--cursor", "c1").exit_code == ExitCode.USAGE
    assert invoke(tmp_path, "dlq", "list", "--service", "telephony").exit_code == ExitCode.USAGE
    assert invoke(tmp_path, "dlq", "list", "--state", "lost").exit_code == ExitCode.USAGE


def test_a_dead_letter_is_found_on_the_service_that_holds_it(
    tmp_path: Path, apis: FakeApis
) -> None:
    hostile = letter(
        key="\x1b]0;owned\x07",
        value_preview='{"name": "\x1b[2J[/bold]", "account_id": ',
        truncated=True,
        size=1_048_576,
    )
    apis.on("addresses", "GET", f"/dead-letters/{LETTER_ID}", hostile)

    screen = invoke(tmp_path, "dlq", "show", LETTER_ID)
    assert screen.exit_code == 0, screen.output
    assert [service for service, _, _, _ in apis.calls] == ["accounts", "billing", "addresses"]
    for fact in (
        "service           addresses",
        "partition:offset  2:41",
        "received          2027-01-01 09:00:00 UTC",
        "undecodable: Expecting property name",
        "1048576 bytes, SHA-256 abab",
        "only the start is shown",
        "\\x1b]0;owned\\x07",
        '{"name": "\\x1b[2J[/bold]"',
    ):
        assert fact in screen.stdout, fact
    assert "\x1b" not in screen.stdout

    apis.calls.clear()
    document = json.loads(
        invoke(tmp_path, "dlq", "show", LETTER_ID, "--service", "addresses", "--json").stdout
    )
    assert document == hostile and len(apis.calls) == 1


def test_a_dead_letter_on_no_service_is_not_found_and_one_that_may_be_on_a_silent_one_is_not(
    tmp_path: Path, apis: FakeApis
) -> None:
    for service in SERVICES:
        apis.problem(service, "GET", f"/dead-letters/{LETTER_ID}", 404, "dead-letter-not-found")
    screen = invoke(tmp_path, "dlq", "show", LETTER_ID)
    assert screen.exit_code == ExitCode.NOT_FOUND
    assert f"No service has dead letter {LETTER_ID}" in screen.stderr
    problem = json.loads(invoke(tmp_path, "dlq", "show", LETTER_ID, "--json").stdout)
    assert problem["type"] == "urn:cutover:problem:dead-letter-not-found"

    apis.down.add("billing")
    screen = invoke(tmp_path, "dlq", "show", LETTER_ID)
    assert screen.exit_code == ExitCode.UNREACHABLE
    message = " ".join(screen.stderr.split())
    assert (
        f"Dead letter {LETTER_ID} is not on accounts, addresses, scheduler; billing did not "
        "answer: billing at http://127.0.0.1:8002 did not answer" in message
    )
    assert "give --service" in screen.stderr
    nothing_sent = invoke(tmp_path, "dlq", "redrive", LETTER_ID)
    assert nothing_sent.exit_code == ExitCode.UNREACHABLE
    assert apis.asked("POST", f"/dead-letters/{LETTER_ID}/redrive") == []


def test_redrive_applies_the_original_again_or_says_why_the_letter_stays_open(
    tmp_path: Path, apis: FakeApis
) -> None:
    path = f"/dead-letters/{LETTER_ID}/redrive"
    apis.on("billing", "GET", f"/dead-letters/{LETTER_ID}", letter())
    apis.on("billing", "POST", path, letter(state="redriven", state_changed_by="operator"))
    screen = invoke(tmp_path, "dlq", "redrive", LETTER_ID)
    assert screen.exit_code == 0, screen.output
    assert f"Dead letter {LETTER_ID} redriven: billing applied its original." in screen.stdout
    assert "redriven" in screen.stdout and "by operator" in screen.stdout
    assert [service for service, _ in apis.asked("POST", path)] == ["billing"]
    document = json.loads(
        invoke(tmp_path, "dlq", "redrive", LETTER_ID, "--service", "billing", "--json").stdout
    )
    assert document["state"] == "redriven"

    apis.problem("billing", "POST", path, 422, "redrive-failed", "account 42 does not exist here")
    failed = invoke(tmp_path, "dlq", "redrive", LETTER_ID, "--service", "billing")
    assert failed.exit_code == ExitCode.REFUSED
    assert "account 42 does not exist here" in failed.stderr and "stays open" in failed.stderr
    apis.problem("billing", "POST", path, 409, "dead-letter-not-open", "it was discarded")
    refused = invoke(tmp_path, "dlq", "redrive", LETTER_ID, "--service", "billing", "--json")
    assert refused.exit_code == ExitCode.REFUSED
    assert json.loads(refused.stdout)["type"] == "urn:cutover:problem:dead-letter-not-open"
    apis.problem("billing", "POST", path, 503, "peer-unavailable", "accounts did not answer")
    unavailable = invoke(tmp_path, "dlq", "redrive", LETTER_ID, "--service", "billing")
    assert unavailable.exit_code == ExitCode.UNREACHABLE
    assert (
        "accounts did not answer" in unavailable.stderr
        and "billing answered 503" in unavailable.stderr
    )


def test_discard_needs_a_reason_and_sends_it(tmp_path: Path, apis: FakeApis) -> None:
    path = f"/dead-letters/{LETTER_ID}/discard"
    discarded = letter(state="discarded", discard_reason="test record", state_changed_by="ops")
    apis.on("scheduler", "POST", path, discarded)
    screen = invoke(
        tmp_path, "dlq", "discard", LETTER_ID, "--service", "scheduler", "--reason", "test record"
    )
    assert screen.exit_code == 0, screen.output
    assert apis.asked("POST", path) == [("scheduler", {"json": {"reason": "test record"}})]
    assert f"Dead letter {LETTER_ID} discarded on scheduler." in screen.stdout
    assert "discard reason    test record" in screen.stdout
    document = json.loads(
        invoke(
            tmp_path,
            "dlq",
            "discard",
            LETTER_ID,
            "--service",
            "scheduler",
            "--reason",
            "x",
            "--json",
        ).stdout
    )
    assert document == discarded

    for reasons in ([], ["--reason", " "], ["--reason", "x" * 1001]):
        assert invoke(tmp_path, "dlq", "discard", LETTER_ID, *reasons).exit_code == ExitCode.USAGE
    apis.problem("scheduler", "POST", path, 409, "dead-letter-not-open", "it was redriven")
    again = invoke(tmp_path, "dlq", "discard", LETTER_ID, "--service", "scheduler", "--reason", "x")
    assert again.exit_code == ExitCode.REFUSED and "it was redriven" in again.stderr
    missing = invoke(tmp_path, "dlq", "discard", LETTER_ID, "--reason", "x")
    assert missing.exit_code == ExitCode.NOT_FOUND


def test_stalled_disconnects_are_a_table_of_what_they_wait_for(
    tmp_path: Path, apis: FakeApis
) -> None:
    both = stalled_disconnect(stalled_steps=["final_invoice", "address"], retries=2)
    apis.on("accounts", "GET", "/disconnects", page(both, next_cursor="n"))
    screen = invoke(tmp_path, "disconnects", "stalled", "--limit", "10")
    assert screen.exit_code == 0, screen.output
    assert apis.asked("GET", "/disconnects") == [
        ("accounts", {"params": {"state": "stalled", "limit": 10}})
    ]
    header = screen.stdout.splitlines()[0]
    for column in (
        "id",
        "account",
        "requested (UTC)",
        "deadline (UTC)",
        "stalled steps",
        "retries",
    ):
        assert column in header, column
    assert "2027-01-01 09:05:00" in screen.stdout
    assert "final invoice (billing), address release (addresses)" in screen.stdout
    assert "More: --cursor n" in screen.stdout
    document = json.loads(invoke(tmp_path, "disconnects", "stalled", "--json").stdout)
    assert document == page(both, next_cursor="n")


def test_retry_asks_again_and_shows_where_the_disconnect_stands(
    tmp_path: Path, apis: FakeApis
) -> None:
    path = f"/disconnects/{DISCONNECT_ID}/retry"
    apis.on("accounts", "POST", path, stalled_disconnect(state="pending", retries=1), 202)
    screen = invoke(tmp_path, "disconnects", "retry", DISCONNECT_ID)
    assert screen.exit_code == 0, screen.output
    message = f"Disconnect {DISCONNECT_ID} asked again (final invoice pending, address released)"
    assert message in screen.stdout and "retries        1" in screen.stdout
    assert "cutover accounts show 42" in screen.stdout
    assert (
        json.loads(invoke(tmp_path, "disconnects", "retry", DISCONNECT_ID, "--json").stdout)[
            "retries"
        ]
        == 1
    )

    apis.problem("accounts", "POST", path, 409, "disconnect-not-pending", "it is completed")
    refused = invoke(tmp_path, "disconnects", "retry", DISCONNECT_ID)
    assert refused.exit_code == ExitCode.REFUSED and "it is completed" in refused.stderr
    unknown = invoke(tmp_path, "disconnects", "retry", "0b7c4b8e-0000-4000-8000-000000000000")
    assert unknown.exit_code == ExitCode.NOT_FOUND


def test_abandon_shows_the_disconnect_and_asks_first(tmp_path: Path, apis: FakeApis) -> None:
    path = f"/disconnects/{DISCONNECT_ID}/abandon"
    apis.on("accounts", "GET", f"/disconnects/{DISCONNECT_ID}", stalled_disconnect())
    abandoned = stalled_disconnect(
        state="abandoned", abandoned_at="2027-01-01T10:00:00Z", abandon_reason="billing is gone"
    )
    apis.on("accounts", "POST", path, abandoned)

    declined = invoke(
        tmp_path, "disconnects", "abandon", DISCONNECT_ID, "--reason", "r", input="n\n"
    )
    assert declined.exit_code == 0 and "Nothing was done." in declined.stdout
    assert "stalled: no final invoice (billing) yet" in declined.stdout
    assert "deadline       2027-01-01 09:05:00 UTC" in declined.stdout
    assert apis.asked("POST", path) == []

    screen = invoke(
        tmp_path,
        "disconnects",
        "abandon",
        DISCONNECT_ID,
        "--reason",
        "billing is gone",
        input="y\n",
    )
    assert screen.exit_code == 0, screen.output
    assert apis.asked("POST", path) == [("accounts", {"json": {"reason": "billing is gone"}})]
    assert f"Disconnect {DISCONNECT_ID} abandoned: account 42 is no longer frozen." in screen.stdout
    assert "abandoned: billing is gone" in screen.stdout

    apis.calls.clear()
    document = json.loads(
        invoke(
            tmp_path, "disconnects", "abandon", DISCONNECT_ID, "--reason", "r", "--yes", "--json"
        ).stdout
    )
    assert document == abandoned and [method for _, method, _, _ in apis.calls] == ["POST"]
    needs_yes = invoke(tmp_path, "disconnects", "abandon", DISCONNECT_ID, "--reason", "r", "--json")
    assert needs_yes.exit_code == ExitCode.USAGE and "--yes" in needs_yes.output
    assert invoke(tmp_path, "disconnects", "abandon", DISCONNECT_ID).exit_code == ExitCode.USAGE

    apis.problem("accounts", "POST", path, 409, "disconnect-not-pending", "it is abandoned")
    refused = invoke(tmp_path, "disconnects", "abandon", DISCONNECT_ID, "--reason", "r", "-y")
    assert refused.exit_code == ExitCode.REFUSED and "it is abandoned" in refused.stderr
    unknown = "0b7c4b8e-0000-4000-8000-000000000000"
    for yes in ([], ["--yes"]):
        missing = invoke(tmp_path, "disconnects", "abandon", unknown, "--reason", "r", *yes)
        assert missing.exit_code == ExitCode.NOT_FOUND


def test_following_a_disconnect_stops_when_it_is_abandoned_with_exit_code_1() -> None:
    pending = stalled_disconnect(state="pending")

    class AbandonedMeanwhile:
        def get(self, service: str, path: str) -> dict[str, Any]:
            return stalled_disconnect(state="abandoned", abandon_reason="billing is gone")

    with pytest.raises(Problem) as raised:
        follow(AbandonedMeanwhile(), pending, timeout=30, spinner_on=None)  # type: ignore[arg-type]
    assert raised.value.exit_code == ExitCode.REFUSED
    assert "abandoned (billing is gone)" in raised.value.document["detail"]


def test_a_stalled_disconnect_followed_past_the_timeout_says_how_to_retry_it() -> None:
    stuck = stalled_disconnect(retries=1)

    class Stalled:
        def get(self, service: str, path: str) -> dict[str, Any]:
            return stuck

    with pytest.raises(Problem) as raised:
        follow(Stalled(), stuck, timeout=0.3, spinner_on=None)  # type: ignore[arg-type]
    assert raised.value.exit_code == ExitCode.STILL_RUNNING
    assert "stalled waiting for final invoice (billing)" in raised.value.document["detail"]
    assert f"cutover disconnects retry {DISCONNECT_ID}" in (raised.value.hint or "")


def test_an_accounts_disconnects_read_stalled_and_abandoned(tmp_path: Path, apis: FakeApis) -> None:
    account = {
        "id": 42,
        "name": "Grace Hopper",
        "account_type_id": "t",
        "account_status_id": "s",
        "parent_account_id": None,
        **dict.fromkeys(("activated_at", "disconnected_at", "archived_at"), None),
        **dict.fromkeys(("created_at", "updated_at"), "2027-01-01T08:00:00Z"),
    }
    apis.on("accounts", "GET", "/accounts/42", account)
    apis.on(
        "accounts",
        "GET",
        "/accounts/42/disconnects",
        page(
            stalled_disconnect(stalled_steps=["address"]),
            stalled_disconnect(state="abandoned", abandon_reason="customer stays"),
        ),
    )
    apis.on("accounts", "GET", "/accounts/42/history", page())
    apis.on("accounts", "GET", "/account-statuses", page({"id": "s", "name": "Active"}))
    apis.on("accounts", "GET", "/account-types", page({"id": "t", "name": "Residential"}))
    screen = invoke(tmp_path, "accounts", "show", "42")
    assert screen.exit_code == 0, screen.output
    assert "stalled: no address release (addresses) yet" in screen.stdout
    assert "abandoned: customer stays" in screen.stdout


def test_names_from_the_api_are_shown_as_they_are_not_as_markup(
    tmp_path: Path, apis: FakeApis
) -> None:
    """An account named "[/x]" used to crash the table (Rich read it as a closing tag): exit 8."""
    status = {"id": "00000000-0000-4000-8000-000000000002", "name": "Active"}
    kind = {"id": "00000000-0000-4000-8000-000000000101", "name": "[bold]Residential"}
    apis.on("accounts", "GET", "/account-statuses", page(status))
    apis.on("accounts", "GET", "/account-types", page(kind))
    account = {
        "id": 7,
        "name": "[/x] Acme [red]",
        "account_type_id": kind["id"],
        "account_status_id": status["id"],
        "parent_account_id": None,
        "activated_at": None,
        "disconnected_at": None,
        "archived_at": None,
    }
    apis.on("accounts", "GET", "/accounts", page(account))
    screen = invoke(tmp_path, "accounts", "list")
    assert screen.exit_code == 0, screen.output
    assert "[/x] Acme [red]" in screen.stdout
    assert "[bold]Residential" in screen.stdout
