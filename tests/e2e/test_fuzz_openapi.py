"""Every endpoint of the four services fuzzed from its own OpenAPI document (schemathesis), against
the running system: no 5xx, every error is a problem document, and a refused request writes
nothing to the service's database."""

from __future__ import annotations

import asyncio
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.support.infra import connect
from tests.support.snapshots import state_queries, stored_state
from tests.support.system import TEST_TOKEN, System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
FUZZ = settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def errors_are_problems(ctx, response, case) -> None:  # noqa: ANN001 - schemathesis check signature
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])
        value = content_type[0] if isinstance(content_type, list) else content_type
        assert value.startswith("application/problem+json"), (
            f"{case.method} {case.path} answered {response.status_code} with {value}"
        )


class Store:
    """The service's database, read between requests from a loop of its own (the test is sync)."""

    def __init__(self, system: System, service: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.connection = self.loop.run_until_complete(connect(system.infra, f"test_{service}"))
        self.queries = self.loop.run_until_complete(state_queries(self.connection))

    def state(self) -> dict[str, tuple[int, int]]:
        return self.loop.run_until_complete(stored_state(self.connection, self.queries))

    def settled(self, timeout: float = 10.0) -> dict[str, tuple[int, int]]:
        """The state once what an accepted request set off (events, consumers) has stopped."""
        deadline = time.monotonic() + timeout
        previous = self.state()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            current = self.state()
            if current == previous:
                return current
            previous = current
        raise AssertionError(f"the database kept changing for {timeout} s")

    def close(self) -> None:
        self.loop.run_until_complete(self.connection.close())
        self.loop.close()


@pytest.mark.parametrize("service", ["accounts", "billing", "addresses", "scheduler"])
def test_fuzzing_every_endpoint_finds_no_server_error_and_no_write_on_refusal(
    system: System, service: str
) -> None:
    schema = schemathesis.openapi.from_url(f"{system[service].url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    store = Store(system, service)
    before = store.settled()
    try:
        for operation in operations:
            # One hypothesis run per operation (schemathesis' own pytest plugin does not load with
            # this pytest); failures are shrunk and reported with the request that caused them.
            @FUZZ
            @given(case=operation.as_strategy())
            def run(case: schemathesis.Case) -> None:
                nonlocal before
                response = case.call_and_validate(
                    headers=AUTH,
                    checks=[not_a_server_error],
                    additional_checks=[errors_are_problems],
                )
                if 400 <= response.status_code < 500:
                    assert store.state() == before, (
                        f"{case.method} {case.formatted_path} was refused with "
                        f"{response.status_code} but changed the {service} database"
                    )
                elif case.method != "GET":
                    before = store.settled()

            run()
    finally:
        store.close()
