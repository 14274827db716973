"""Every endpoint of the four services fuzzed from its own OpenAPI document (schemathesis), against
the running system: no 5xx, and every error is a problem document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

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


def fuzz(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=AUTH, checks=[not_a_server_error], additional_checks=[errors_are_problems]
    )


@pytest.mark.parametrize("service", ["accounts", "billing", "addresses", "scheduler"])
def test_fuzzing_every_endpoint_finds_no_server_error(system: System, service: str) -> None:
    schema = schemathesis.openapi.from_url(f"{system[service].url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        # One hypothesis run per operation (schemathesis' own pytest plugin does not load with this
        # pytest); failures are shrunk and reported with the request that caused them.
        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            fuzz(case)

        run()
