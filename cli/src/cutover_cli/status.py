"""`cutover status`: the system's health on one screen, from `/readyz` and `/metrics` alone.

Only HTTP, so it works wherever the APIs are reachable, without Kafka or database credentials. The
figures are each process's own gauges: consumer lag as of the group member's latest batch, the
outbox backlog as of the relay's latest pass.
"""

from __future__ import annotations

from typing import Any

import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.text import Text

from cutover_cli.client import Api
from cutover_cli.config import SERVICES
from cutover_cli.errors import ExitCode, Problem
from cutover_cli.options import JsonFlag
from cutover_cli.output import NOTHING, Output, details, table

# A service that does not answer quickly is reported as such; the screen should not hang.
PROBE_TIMEOUT_SECONDS = 3.0


def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Readiness, consumer lag, scheduler backlog and lateness, outbox backlogs: one screen.

    Exits 5 when a service is unreachable or not ready.
    """
    with Api(ctx.obj, timeout=PROBE_TIMEOUT_SECONDS) as api:
        report = {service: probe(api, service) for service in SERVICES}
    Output(json_output).emit(report, lambda console: render(console, report))
    if not all(health["ready"] for health in report.values()):
        raise typer.Exit(ExitCode.UNREACHABLE)


def probe(api: Api, service: str) -> dict[str, Any]:
    health: dict[str, Any] = {
        "url": api.config.urls[service],
        "reachable": False,
        "ready": False,
        "checks": {},
        "error": None,
        "metrics": None,
    }
    try:
        readiness = api.request(service, "GET", "/readyz")
        metrics = api.request(service, "GET", "/metrics")
    except Problem as problem:
        health["error"] = problem.document["detail"]
        return health
    health["reachable"] = True
    health["ready"] = readiness.status_code == 200
    try:
        health["checks"] = readiness.json().get("checks", {})
    except ValueError:
        health["error"] = f"/readyz answered {readiness.status_code} without JSON"
    if metrics.is_success:
        health["metrics"] = parse_metrics(metrics.text)
    return health


def parse_metrics(text: str) -> dict[str, Any]:
    """The gauges the screen shows, from Prometheus' text format; absent ones stay None."""
    found: dict[str, Any] = {
        "outbox_backlog": None,
        "consumer_lag": {},
        "scheduler_due_backlog": None,
        "scheduler_last_lateness_seconds": None,
        "scheduler_emitted_total": None,
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, value = sample.name, sample.value
            if name == "cutover_consumer_lag":
                group = found["consumer_lag"].setdefault(sample.labels["group"], {})
                group[sample.labels["topic"]] = int(value)
            elif name in (
                "cutover_outbox_backlog",
                "cutover_scheduler_due_backlog",
                "cutover_scheduler_emitted_total",
            ):
                found[name.removeprefix("cutover_")] = int(value)
            elif name == "cutover_scheduler_last_lateness_seconds":
                found["scheduler_last_lateness_seconds"] = value
    return found


def render(console: Console, report: dict[str, dict[str, Any]]) -> None:
    services = table(title="Services")
    for column in ("service", "url", "state", "checks", "outbox backlog"):
        services.add_column(column, justify="right" if column == "outbox backlog" else "left")
    for service, health in report.items():
        metrics = health["metrics"] or {}
        services.add_row(
            service,
            health["url"],
            _state(health),
            health["error"] or ", ".join(f"{k} {v}" for k, v in health["checks"].items()),
            _count(metrics.get("outbox_backlog")),
        )
    console.print(services)

    lag = table(title="Consumer lag (records behind, as of each group's latest batch)")
    for column in ("group", "service", "lag", "by topic"):
        lag.add_column(column, justify="right" if column == "lag" else "left")
    for service, health in report.items():
        for group, topics in sorted(((health["metrics"] or {}).get("consumer_lag") or {}).items()):
            by_topic = ", ".join(f"{topic} {behind}" for topic, behind in sorted(topics.items()))
            lag.add_row(group, service, str(sum(topics.values())), by_topic)
    if not lag.rows:
        lag.add_row(NOTHING, NOTHING, NOTHING, "no batch consumed yet (or no service answered)")
    console.print(lag)

    scheduler = report["scheduler"]["metrics"] or {}
    if scheduler.get("scheduler_emitted_total"):
        lateness = f"{scheduler['scheduler_last_lateness_seconds'] * 1000:.1f} ms"
    else:
        lateness = "no event emitted since the scheduler started"
    console.print(
        details(
            [
                ("due backlog", _count(scheduler.get("scheduler_due_backlog"))),
                ("latest emission lateness", lateness),
            ],
            title="Scheduler",
        )
    )


def _state(health: dict[str, Any]) -> Text:
    if not health["reachable"]:
        return Text("unreachable", style="bold red")
    return Text("ready", style="green") if health["ready"] else Text("not ready", style="yellow")


def _count(value: int | None) -> str:
    return NOTHING if value is None else str(value)
