"""The boundaries the code keeps, checked on its imports (parsed, not executed): a service never
imports another service, contracts import nothing of the project, and a service's `domain/` holds
rules free of frameworks and of the event contracts (the service layer translates)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cutover_contracts.topics import SERVICES

REPO = Path(__file__).resolve().parents[2]
PROJECT = {"cutover_contracts", "cutover_kit", "cutover_cli", "cutover_console"} | {
    f"cutover_{s}" for s in SERVICES
}
FRAMEWORKS = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "aiokafka",
    "faststream",
    "cutover_contracts",
}


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules(root: Path) -> list[Path]:
    return [path for path in root.rglob("*.py") if "migrations" not in path.parts]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {f"cutover_{other}" for other in SERVICES if other != service}
    offenders = {
        str(path.relative_to(REPO)): sorted(imported(path) & others)
        for path in modules(REPO / "services" / service / "src")
        if imported(path) & others
    }
    assert offenders == {}


def test_contracts_import_nothing_of_the_project() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(imported(path) & (PROJECT - {"cutover_contracts"}))
        for path in modules(REPO / "contracts" / "src")
        if imported(path) & (PROJECT - {"cutover_contracts"})
    }
    assert offenders == {}


def test_the_kit_the_cli_and_the_console_import_no_service() -> None:
    """The CLI and the console are clients of the HTTP APIs, nothing more."""
    services = {f"cutover_{s}" for s in SERVICES}
    offenders = {
        str(path.relative_to(REPO)): sorted(imported(path) & services)
        for root in (REPO / "libs" / "kit" / "src", REPO / "cli" / "src", REPO / "console" / "src")
        for path in modules(root)
        if imported(path) & services
    }
    assert offenders == {}


@pytest.mark.parametrize("service", SERVICES)
def test_a_domain_imports_no_framework_and_no_contract(service: str) -> None:
    domain = REPO / "services" / service / "src" / f"cutover_{service}" / "domain"
    offenders = {
        str(path.relative_to(REPO)): sorted(imported(path) & FRAMEWORKS)
        for path in modules(domain)
        if imported(path) & FRAMEWORKS
    }
    assert offenders == {}


def test_the_checks_see_an_offence() -> None:
    """The parser finds the imports these tests look for (guards against a check that sees none)."""
    sample = (
        REPO
        / "services"
        / "accounts"
        / "src"
        / "cutover_accounts"
        / "entrypoints"
        / "http"
        / "accounts.py"
    )
    assert {"fastapi", "cutover_kit"} <= imported(sample)
